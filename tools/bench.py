"""Benchmark: `nimgen build` on a thousand generated workloads, cold, warm (nothing changed) and after one edit.

Run with `make bench`. It copies the example repository into a temporary folder, adds N workloads to the dev
environment, and times whole CLI runs in fresh processes (what a user waits for), reporting each as a ratio of
the cold build measured in the same run, so figures compare across machines.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

WORKLOAD = """apiVersion: nimgen.dev/v1alpha1
kind: InferenceWorkload
metadata: {{name: bench-{i:04d}, project: bench}}
spec:
  model: {{nim: meta/llama-3.1-8b-instruct, version: "1.1.2"}}
  profile: {{auto: {{optimizeFor: throughput}}}}
  access: {{type: authenticated}}
  store: {{ngc: {{secret: ngc-api, cache: {{dataSource: nim-cache}}}}}}
  compute: {{template: l40s-x1}}
  scaling: {{minReplicas: 1, maxReplicas: 2, metric: concurrency, target: {target}}}
"""

PROJECT_FILE = """apiVersion: nimgen.dev/v1alpha1
kind: Project
metadata: {name: bench}
spec:
  quota: {gpus: 4000, workloads: 5000}
"""


def timed(root: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nimgen", "--root", str(root), *args], check=True, cwd=PROJECT,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # the test repository (stable, unlike the examples) with the product's catalog
        shutil.copytree(PROJECT / "tests" / "fixtures" / "repo", root, dirs_exist_ok=True)
        shutil.copytree(PROJECT / "templates" / "models", root / "templates" / "models")
        (root / "environments/dev/projects").mkdir(parents=True, exist_ok=True)
        (root / "environments/dev/projects/bench.yaml").write_text(PROJECT_FILE)
        for i in range(args.workloads):
            (root / f"environments/dev/workloads/bench-{i:04d}.yaml").write_text(WORKLOAD.format(i=i, target=8))
        cold = timed(root, "build", "--env", "dev")
        warm = timed(root, "build", "--env", "dev")
        (root / "environments/dev/workloads/bench-0007.yaml").write_text(WORKLOAD.format(i=7, target=9))
        one = timed(root, "build", "--env", "dev")
        timed(root, "build")  # the other environments too, so that check compares a complete out/
        check = timed(root, "check")
        plan = timed(root, "plan")
        validate = timed(root, "validate", "--env", "dev")
    rows = [("cold build (empty cache)", cold), ("warm build (nothing changed)", warm),
            ("build after editing one workload", one), ("check (all environments, no cache)", check),
            ("plan (all environments, sealed cache)", plan),
            ("validate only (load, validate, resolve)", validate)]
    print(f"{args.workloads} workloads in environment dev; seconds and ratio to the cold build, one run:")
    for label, seconds in rows:
        print(f"  {label:42s} {seconds:7.2f} s   {seconds / cold:6.1%}")


if __name__ == "__main__":
    main()
