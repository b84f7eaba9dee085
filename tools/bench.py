"""Benchmark: nimgen on a generated fleet of a thousand and more varied workloads in three environments.

Run with `make bench` (or `.venv/bin/python tools/bench.py [--workloads N] [--runs K] [--keep DIR]`).

The fleet. In a temporary folder (or --keep DIR), the example repository's environments (base, dev, staging, prod:
each environment.yaml layered on the base with `spec.base: base`, their projects and workloads), the gallery
(templates/compute, templates/datasources, plus one prefilled cache DataSource) and the catalog (templates/models),
with every node pool sized (`nodes`) for the fleet, an h100 pool added to dev, a 2g.20gb MIG slice to staging's
a100 pool and a throughput pod metric to its HPA backend, and two departments to prod. Then N workloads, split
evenly over dev, staging and prod, each in one of eight projects per environment (prod's in the two departments),
generated deterministically: the store, the access level and the scaling backend go round-robin over the
environment's options (every combination occurs), the rest (project, model, profile, pools, compute, replicas, env
entries, LoRA, MIG slices, GPU shares, placement, rollout) comes from a seeded random. What an environment does not
allow is not generated (public endpoints outside dev, LoRA from object storage in Knative mode, GPU shares without
KAI, MIG outside staging's A100 pool, the KEDA HTTP add-on for exposed workloads). The fleet must build without
errors (`nimgen validate` runs first; warnings are fine).

The measurements. Each nimgen step is a whole CLI run in a fresh process (`python -m nimgen --root FLEET ...`,
what a user waits for), repeated --runs times; the table shows the median:
  - cold build: no out/, no .nimgen/ cache (both removed before each run);
  - no-op rebuild: nothing changed since the previous build;
  - one workload changed: a label added to one fleet workload of staging (every object of that workload
    changes); the file is restored and rebuilt, untimed, after each run, so every run changes something;
  - one base file changed: the same on environments/base/workloads/llama-8b-chat.yaml, which every environment
    layers its own llama-8b-chat on (three workloads in three environments change);
  - check, validate, plan, and verify alone (`nimgen verify`, out/ as built).
Every build builds all environments. Two references are timed in the same run, in this process, median of
--runs: the floor, PyYAML's C dumper (yaml.CSafeDumper, libyaml) writing the objects of the fleet's out/ (every
file loaded once; then yaml.dump_all(objects, Dumper=yaml.CSafeDumper) per file, summed), the cost of writing
the objects alone; and kubernetes-validate's own `kubernetes_validate.validate(obj, version, strict=True)` on each
object of a built-in kind (Namespace, ResourceQuota, LimitRange, NetworkPolicy, PVC, Job, HPA, PDB, Service...;
CRDs and kustomizations skipped), at its environment's Kubernetes version, and beside it nimgen's own check of the
same objects against the same strict schemas (verify/schemas.py, what every build and `nimgen verify` run per
object), the ratio of the two printed under the table. Every step is shown in seconds and as
a multiple of the floor, so figures compare across machines. The peak RSS is that of the largest process nimgen
ran as (getrusage(RUSAGE_CHILDREN).ru_maxrss: the nimgen processes and their cdk8s Node.js processes).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parent.parent
SEED = 20240611
ENVS = ("dev", "staging", "prod")
TEAMS = tuple(f"team-{c}" for c in "abcdefgh")
BASE_EDIT = Path("environments/base/workloads/llama-8b-chat.yaml")   # every environment has llama-8b-chat
STORES = ("ngc", "ngc-cache", "ngc-warmup", "ngc-prefilled", "pvc", "uri")
# API groups Kubernetes serves itself: kubernetes-validate has their schemas (the rest are CRDs)
BUILTIN_GROUPS = frozenset({"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "storage.k8s.io",
                            "rbac.authorization.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
                            "discovery.k8s.io", "node.k8s.io"})

Doc = dict[str, Any]


# ---------------------------------------------------------------------------------------------------------------
# What each environment offers


@dataclass(frozen=True)
class Model:
    nim: str
    version: str
    short: str
    big: bool = False             # 70B: several GPUs, a large cache, one GPU product per workload
    generic: bool = True          # ships a vLLM profile that runs on any GPU (mixed pools, MIG, shares)


MODELS = (
    Model("meta/llama-3.1-8b-instruct", "1.1.2", "llama8b"),   # the one with LoRA profiles
    Model("mistralai/mistral-7b-instruct-v0.3", "1.12.0", "mistral7b"),
    Model("meta/llama3-8b-instruct", "1.0.0", "llama3-8b"),
    Model("meta/llama-3.1-70b-instruct", "1.14.0", "llama70b", big=True, generic=False),
)
LORA_MODEL = MODELS[0]


@dataclass(frozen=True)
class Pool:
    name: str
    product: str                  # gpu.product
    per_node: int
    template: str | None = None   # the gallery's one-GPU template for its product, if any


@dataclass(frozen=True)
class Offer:
    """What one environment allows, from which its workloads are drawn."""
    name: str
    about: str
    knative: bool
    kai: bool
    backends: tuple[str, ...]
    accesses: tuple[str, ...]
    pools: tuple[Pool, ...]
    pool_lists: tuple[tuple[str, ...], ...]   # scheduling.nodePools of whole-GPU workloads
    lora_sources: tuple[str, ...]
    kinds: tuple[str, ...]                    # whole, lora, mig, share: drawn with these weights (repeats)
    metrics: tuple[str, ...]                  # metrics the autoscaling backend can read


L40S = Pool("l40s", "NVIDIA-L40S", 4, "l40s-x1")
OFFERS = {
    "dev": Offer(
        "dev", "Knative mode, sidecar mesh, public endpoints", knative=True, kai=False,
        backends=("fixed", "knative", "knative-zero"),
        accesses=("clusterLocal", "authenticated", "groups", "users", "public"),
        pools=(L40S, Pool("h100", "NVIDIA-H100-80GB-HBM3", 8, "h100-x1")),
        pool_lists=(("l40s",), ("h100",), ("l40s", "h100")), lora_sources=("pvc",),
        kinds=("whole",) * 4 + ("lora",), metrics=("concurrency", "throughput")),
    "staging": Offer(
        "staging", "Standard mode, ambient mesh, HPA, KEDA HTTP add-on, MIG", knative=False, kai=False,
        backends=("fixed", "hpa", "keda-http"), accesses=("clusterLocal", "authenticated", "groups", "users"),
        pools=(L40S, Pool("a100", "NVIDIA-A100-SXM4-80GB", 8)),
        pool_lists=(("l40s",), ("a100",), ("l40s", "a100")), lora_sources=("pvc", "uri"),
        kinds=("whole",) * 3 + ("lora", "mig"), metrics=("concurrency", "throughput")),
    "prod": Offer(
        "prod", "KAI, departments, KEDA, GPU shares, sidecar mesh with CNI, mirror, proxy, air gap", knative=False,
        kai=True, backends=("fixed", "keda"), accesses=("clusterLocal", "authenticated", "groups", "users"),
        pools=(Pool("h100-reserved", "NVIDIA-H100-80GB-HBM3", 8, "h100-x1"),
               Pool("h100-spot", "NVIDIA-H100-80GB-HBM3", 8, "h100-x1"), L40S),
        pool_lists=(("h100-reserved",), ("h100-reserved", "h100-spot"), ("h100-spot",), ("l40s",)),
        lora_sources=("pvc", "uri"), kinds=("whole",) * 3 + ("lora", "share"),
        metrics=("concurrency", "throughput", "latency")),
}
PROD_DEPARTMENTS = {"serving": TEAMS[:4], "labs": TEAMS[4:]}
ENV_ENTRIES = (
    {"name": "NIM_MAX_MODEL_LEN", "value": "8192"},
    {"name": "NIM_ENABLE_KV_CACHE_REUSE", "value": "1"},
    {"name": "NIM_GUIDED_DECODING_BACKEND",
     "valueFrom": {"configMapKeyRef": {"name": "nim-settings", "key": "guided-decoding"}}},
    {"name": "OTEL_EXPORTER_OTLP_HEADERS", "valueFrom": {"secretKeyRef": {"name": "otel-auth", "key": "headers"}}},
    {"name": "NIM_LOG_LEVEL", "remove": True},
)


# ---------------------------------------------------------------------------------------------------------------
# One generated workload


@dataclass
class Generated:
    env: str
    name: str
    project: str
    doc: Doc
    tags: dict[str, str] = field(default_factory=dict)   # store, access, backend...: the fleet's composition
    pools: tuple[str, ...] = ()
    gpu_bound: int = 1            # GPUs per replica at most, for sizing the pools
    peak: int = 1                 # replicas at most, a rollout's extra one included


def round_robin(i: int, *axes: tuple[str, ...]) -> list[str]:
    """The i-th combination of the axes, the first varying fastest: every combination within prod(len) items."""
    picks = []
    for axis in axes:
        picks.append(axis[i % len(axis)])
        i //= len(axis)
    return picks


def generate_workload(offer: Offer, i: int, rng: random.Random) -> Generated:
    store, access, backend = round_robin(i, STORES, offer.accesses, offer.backends)
    kind = rng.choice(offer.kinds)
    if backend == "keda-http":
        access = "clusterLocal"   # the HTTP add-on's interceptor wakes callers inside the cluster only
    model = LORA_MODEL if kind == "lora" else rng.choice([m for m in MODELS if m.generic or kind == "whole"])
    project = rng.choice(TEAMS)
    name = f"{model.short}-{i:04d}"
    g = Generated(offer.name, name, project, {}, {"store": store, "access": access, "backend": backend, "kind": kind})
    spec: Doc = {"model": {"nim": model.nim, "version": model.version}}
    spec["profile"] = profile(model, kind, rng)
    spec["access"] = access_spec(access, project, i)
    spec["store"] = store_spec(store, model, offer, rng)
    spec["compute"], g.pools, g.gpu_bound = compute_spec(offer, model, kind, spec["profile"], rng)
    spec["scaling"] = scaling_spec(offer, backend, rng)
    g.peak = spec["scaling"]["maxReplicas"] + 1
    g.tags["pools"] = ", ".join(g.pools)
    spec["scheduling"] = scheduling_spec(offer, g.pools, rng)
    if kind == "lora":
        source = rng.choice(offer.lora_sources)
        spec["lora"] = lora_spec(source, name)
        g.tags["kind"] = f"lora from {source}"
    elif kind in ("mig", "share"):
        g.tags["kind"] = next(k for k in ("migProfile", "gpuFraction", "gpuMemory") if k in spec["compute"])
    if entries := rng.sample(ENV_ENTRIES, rng.randint(0, 3)):
        spec["env"] = entries
    g.tags["env entries"] = str(len(entries))
    extras(spec, offer, rng)
    metadata: Doc = {"name": name, "project": project}
    if rng.random() < 0.5:
        metadata["labels"] = {"app": model.short, "tier": rng.choice(["gold", "silver", "bronze"])}
    if rng.random() < 0.3:
        metadata["annotations"] = {"owner": f"{project}@example.com"}
    g.doc = {"apiVersion": "nimgen.dev/v1alpha1", "kind": "InferenceWorkload", "metadata": metadata, "spec": spec}
    return g


def profile(model: Model, kind: str, rng: random.Random) -> Doc:
    if kind == "whole" and model is LORA_MODEL and rng.random() < 0.15:
        return {"name": "vllm-fp16-tp1"}                 # a pinned name: runs on any pool
    objective = "latency" if kind == "whole" and rng.random() < 0.25 else "throughput"
    return {"auto": {"optimizeFor": objective}}


def access_spec(access: str, project: str, i: int) -> Doc:
    spec: Doc = {"type": access}
    if access == "groups":
        spec["groups"] = [f"{project}-users", "ml-platform"][: 1 + i % 2]
    elif access == "users":
        spec["users"] = [f"user{i % 50}@example.com", f"user{(i + 7) % 50}@example.com"]
    return spec


def store_spec(store: str, model: Model, offer: Offer, rng: random.Random) -> Doc:
    repo = model.nim.split("/")[1]
    cache = "nim-cache-large" if model.big else "nim-cache"
    match store:
        case "ngc":
            return {"ngc": {"secret": "ngc-api"}}
        case "ngc-cache":
            return {"ngc": {"secret": "ngc-api", "cache": {"dataSource": cache}}}
        case "ngc-warmup":
            return {"ngc": {"secret": "ngc-api", "cache": {"dataSource": cache, "warmup": True}}}
        case "ngc-prefilled":
            ngc: Doc = {"cache": {"dataSource": "nim-prefilled", "prefilled": True}}
            if offer.name != "prod" and rng.random() < 0.5:   # prod is air-gapped: no key at all
                ngc["secret"] = "ngc-api"
            return {"ngc": ngc}
        case "pvc":
            return {"pvc": {"claim": "model-store", "path": f"/nim-cache/{repo}-{model.version}"}}
        case "uri":
            return {"uri": rng.choice([
                {"url": f"s3://models/nim-cache/{repo}-{model.version}", "serviceAccount": "model-reader"},
                f"gs://models/nim-cache/{repo}-{model.version}",
                f"pvc://model-store/nim-cache/{repo}-{model.version}",
            ])}
    raise ValueError(store)


def compute_spec(offer: Offer, model: Model, kind: str, profile_spec: Doc, rng: random.Random
                 ) -> tuple[Doc, tuple[str, ...], int]:
    """compute, scheduling.nodePools and the most GPUs a replica may take."""
    by_name = {p.name: p for p in offer.pools}
    if kind == "mig":
        return {"template": "small", "migProfile": rng.choice(["3g.40gb", "2g.20gb"])}, ("a100",), 1
    if kind == "share":
        if rng.random() < 0.5:
            return {"gpuFraction": rng.choice([0.5, 0.75]), "cpu": "6", "memory": "32Gi"}, ("l40s",), 1
        return ({"gpuMemory": rng.choice(["24Gi", "40Gi"]), "cpu": "6", "memory": "32Gi"},
                rng.choice([("h100-reserved",), ("h100-reserved", "h100-spot")]), 1)
    lists = offer.pool_lists
    if model.big or not model.generic:        # no profile runs on two GPU products
        lists = tuple(pl for pl in lists if len({by_name[p].product for p in pl}) == 1)
    pools = rng.choice(lists)
    if model.big:
        return {"cpu": "24", "memory": "192Gi"}, pools, 8
    products = {by_name[p].product for p in pools}
    template = by_name[pools[0]].template
    one_gpu = "name" in profile_spec or profile_spec["auto"]["optimizeFor"] == "throughput"
    if len(products) == 1 and template and one_gpu and kind == "whole" and rng.random() < 0.5:
        return {"template": template}, pools, 1
    if rng.random() < 0.5:
        return {"template": "small"}, pools, 2
    return {"cpu": rng.choice(["6", "8", "12"]), "memory": rng.choice(["48Gi", "64Gi"])}, pools, 2


def scaling_spec(offer: Offer, backend: str, rng: random.Random) -> Doc:
    metric = rng.choice(offer.metrics if backend == "keda" else ("concurrency", "throughput"))
    target = {"concurrency": rng.choice([4, 8, 16]), "throughput": rng.choice([2.5, 5, 10]), "latency": 500}[metric]
    match backend:
        case "fixed":
            replicas = rng.choice([1, 1, 2])
            return {"minReplicas": replicas, "maxReplicas": replicas}
        case "knative-zero" | "keda-http":
            return {"minReplicas": 0, "maxReplicas": rng.randint(1, 3), "metric": metric, "target": target,
                    "scaleToZero": {"afterSeconds": rng.choice([300, 600, 900])}}
        case _:
            low = rng.choice([1, 1, 2])
            return {"minReplicas": low, "maxReplicas": low + rng.randint(1, 3), "metric": metric, "target": target}


def scheduling_spec(offer: Offer, pools: tuple[str, ...], rng: random.Random) -> Doc:
    spec: Doc = {"nodePools": list(pools)}
    if offer.kai:
        if rng.random() < 0.2:
            spec.update(priority="batch", preemptible=True)
        if rng.random() < 0.25:
            spec["nodeType"] = "inference"
    elif rng.random() < 0.15:
        spec["spread"] = {"across": rng.choice(["node", "zone"])}
    if rng.random() < 0.1:
        spec["tolerations"] = [{"key": "maintenance", "operator": "Exists", "effect": "NoSchedule"}]
    return spec


def lora_spec(source: str, name: str) -> Doc:
    if source == "pvc":
        return {"source": {"pvc": {"claim": "adapters", "path": f"/{name}"}}, "maxAdapters": 4, "maxCpuAdapters": 16}
    return {"source": {"uri": f"s3://adapters/{name}"}, "refreshSeconds": 300}


def extras(spec: Doc, offer: Offer, rng: random.Random) -> None:
    """Probes, rollout and the outbound network, where the environment's mode allows them."""
    if rng.random() < 0.2:
        spec["probes"] = {"startup": {"seconds": 900 if offer.knative else 300}}
    if not offer.knative and rng.random() < 0.25:
        spec["rollout"] = {"maxSurge": 1}
    if offer.name == "prod" and rng.random() < 0.1:
        spec["network"] = {"proxy": {"https": "http://proxy-b.corp.example.com:3128"}}


# ---------------------------------------------------------------------------------------------------------------
# The fleet on disk


def write_yaml(path: Path, doc: Doc) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=120))


def copy_examples(root: Path) -> None:
    for env in ("base", *ENVS):
        shutil.copytree(PROJECT / "environments" / env, root / "environments" / env)
    for part in ("compute", "datasources", "models"):
        shutil.copytree(PROJECT / "templates" / part, root / "templates" / part)
    write_yaml(root / "templates/datasources/nim-prefilled.yaml",
               {"apiVersion": "nimgen.dev/v1alpha1", "kind": "DataSource", "metadata": {"name": "nim-prefilled"},
                "spec": {"existingClaim": "nim-prefilled"}})


def generate_workloads(total: int) -> list[Generated]:
    rng = random.Random(SEED)
    share, extra = divmod(total, len(ENVS))
    return [generate_workload(OFFERS[env], i, rng)
            for e, env in enumerate(ENVS) for i in range(share + (1 if e < extra else 0))]


def nodes_needed(workloads: list[Generated], pool: Pool) -> int:
    """Nodes enough for every replica at peak of the workloads that may land on the pool, with room to spare."""
    gpus = sum(w.gpu_bound * w.peak for w in workloads if pool.name in w.pools)
    return math.ceil(gpus * 1.25 / pool.per_node) + 4


def configure_environment(root: Path, offer: Offer, workloads: list[Generated]) -> None:
    """The example's environment.yaml with every pool sized for the fleet (and the pools, metric and departments
    the fleet needs)."""
    path = root / "environments" / offer.name / "environment.yaml"
    doc = yaml.safe_load(path.read_text())
    base = yaml.safe_load((root / "environments/base/environment.yaml").read_text())
    spec = doc["spec"]
    declared = {p["name"]: p for p in spec.get("nodePools", base["spec"]["nodePools"])}
    pools = []
    for pool in offer.pools:
        entry = dict(declared.get(pool.name) or new_pool(pool))
        entry["nodes"] = nodes_needed(workloads, pool)
        if "migProfiles" in entry["gpu"]:   # 8B models need 16 GB: a 2g.20gb slice holds them, 1g.10gb does not
            entry["gpu"] = {**entry["gpu"], "migProfiles": sorted({*entry["gpu"]["migProfiles"], "2g.20gb"})}
        pools.append(entry)
    spec["nodePools"] = pools
    if offer.name == "staging":   # the hpa backend reads pod metrics: throughput needs one
        spec["autoscaling"].setdefault("metrics", {})["throughput"] = {"podsMetric": "request_success_rate"}
    if offer.kai:
        spec["departments"] += [{"name": d, "quota": {"gpus": 2000 * len(members)}, "overQuota": {"gpuLimit": -1}}
                                for d, members in PROD_DEPARTMENTS.items()]
    write_yaml(path, doc)


def new_pool(pool: Pool) -> Doc:
    """A pool the example environment lacks (dev's h100), declared as prod declares its H100 pools."""
    return {"name": pool.name,
            "gpu": {"product": pool.product, "perNode": pool.per_node, "memory": "80Gi", "device": "2330:10de"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]}


def write_projects(root: Path, env: str) -> None:
    departments = {t: d for d, members in PROD_DEPARTMENTS.items() for t in members} if env == "prod" else {}
    for team in TEAMS:
        spec: Doc = {"quota": {"gpus": 2000, "cpu": "20000", "memory": "200Ti", "workloads": 1000},
                     "overQuota": {"gpuLimit": -1}, "labels": {"team": team, "cost-center": f"cc-{team}"}}
        if team in departments:
            spec["department"] = departments[team]
        write_yaml(root / "environments" / env / "projects" / f"{team}.yaml",
                   {"apiVersion": "nimgen.dev/v1alpha1", "kind": "Project", "metadata": {"name": team}, "spec": spec})


def make_fleet(root: Path, total: int) -> list[Generated]:
    copy_examples(root)
    workloads = generate_workloads(total)
    for env in ENVS:
        mine = [w for w in workloads if w.env == env]
        configure_environment(root, OFFERS[env], mine)
        write_projects(root, env)
        for w in mine:
            write_yaml(root / "environments" / env / "workloads" / f"{w.name}.yaml", w.doc)
    return workloads


# ---------------------------------------------------------------------------------------------------------------
# Timing nimgen


class Crashed(Exception):
    """nimgen exited 2 (an internal error, with its traceback) twice in a row."""


def nimgen(root: Path, *args: str) -> float:
    """Seconds of one `python -m nimgen --root ROOT ARGS` in a fresh process. A crash (exit 2) is run once more
    (the generator may be changing under the benchmark), then raised; any other failure stops the benchmark."""
    command = [sys.executable, "-m", "nimgen", "--root", str(root), *args]
    for attempt in (1, 2):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode == 0:
            return seconds
        if done.returncode != 2:
            sys.exit(f"bench: `{shlex.join(command)}` failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        print(f"bench: `{shlex.join(command)}` crashed (attempt {attempt}):\n{done.stderr[-3000:]}", file=sys.stderr)
    raise Crashed(shlex.join(command))


def median_of(runs: int, step: Callable[[int], float]) -> float:
    return statistics.median(step(r) for r in range(runs))


@contextmanager
def edited(path: Path, run: int) -> Iterator[None]:
    """The workload file with one more label (a different value each run); restored afterwards."""
    original = path.read_text()
    doc = yaml.safe_load(original)
    doc["metadata"].setdefault("labels", {})["bench-edit"] = f"run-{run}"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        yield
    finally:
        path.write_text(original)


def measure_nimgen(root: Path, runs: int, one_workload: Path) -> list[tuple[str, float]]:
    def cold(_: int) -> float:
        shutil.rmtree(root / "out", ignore_errors=True)
        shutil.rmtree(root / ".nimgen", ignore_errors=True)
        return nimgen(root, "build")

    def changed(path: Path) -> Callable[[int], float]:
        def step(run: int) -> float:
            with edited(path, run):
                seconds = nimgen(root, "build")
            nimgen(root, "build")            # back to the fleet as generated, untimed
            return seconds
        return step

    steps = [
        ("cold build (no out/, no cache)", cold),
        ("no-op rebuild", lambda _: nimgen(root, "build")),
        (f"one workload changed ({one_workload.relative_to(root)})", changed(one_workload)),
        (f"one base file changed ({BASE_EDIT})", changed(root / BASE_EDIT)),
        ("check", lambda _: nimgen(root, "check")),
        ("validate", lambda _: nimgen(root, "validate")),
        ("plan", lambda _: nimgen(root, "plan")),
        ("verify", lambda _: nimgen(root, "verify")),
    ]
    results = []
    for label, step in steps:
        try:
            seconds = median_of(runs, step)
        except Crashed as crash:    # a step of an older nimgen may crash (bench the commit before a fix): shown as such
            print(f"bench: {label}: `{crash}` crashed twice: a nimgen bug (its traceback is above)", file=sys.stderr)
            seconds = math.nan
        else:
            print(f"bench: {label}: {seconds:.2f} s", file=sys.stderr)
        results.append((label, seconds))
    return results


# ---------------------------------------------------------------------------------------------------------------
# The references


def require_libyaml() -> None:
    if not getattr(yaml, "__with_libyaml__", False) or not hasattr(yaml, "CSafeDumper"):
        sys.exit("bench: PyYAML has no libyaml binding (yaml.CSafeDumper), which the floor is measured with: "
                 "install libyaml (e.g. apt-get install libyaml-dev) and reinstall PyYAML "
                 "(pip install --force-reinstall --no-binary PyYAML PyYAML)")


def load_out(root: Path) -> dict[Path, list[Doc]]:
    """The objects of every YAML file of out/, by file."""
    files = sorted((root / "out").rglob("*.yaml"))
    return {f: [d for d in yaml.load_all(f.read_text(), Loader=yaml.CSafeLoader) if d is not None] for f in files}


def floor_seconds(objects: dict[Path, list[Doc]], runs: int) -> float:
    def once(_: int) -> float:
        total = 0.0
        for docs in objects.values():
            start = time.perf_counter()
            yaml.dump_all(docs, Dumper=yaml.CSafeDumper)
            total += time.perf_counter() - start
        return total
    return median_of(runs, once)


def builtin(obj: Doc) -> bool:
    group = obj.get("apiVersion", "").rpartition("/")[0]
    return group in BUILTIN_GROUPS


def kubernetes_versions(root: Path) -> dict[str, str]:
    """Each environment's kubernetesVersion (its own, else the base's)."""
    base = yaml.safe_load((root / "environments/base/environment.yaml").read_text())["spec"]
    return {env: yaml.safe_load((root / "environments" / env / "environment.yaml").read_text())["spec"]
            .get("kubernetesVersion", base["kubernetesVersion"]) for env in ENVS}


def builtin_objects(root: Path, objects: dict[Path, list[Doc]]) -> list[tuple[Doc, str]]:
    """Every object of a built-in kind, with its environment's Kubernetes version."""
    versions = kubernetes_versions(root)
    return [(obj, versions[f.relative_to(root / "out").parts[0]]) for f, docs in objects.items() for obj in docs
            if builtin(obj)]


def kubernetes_validate_seconds(todo: list[tuple[Doc, str]], runs: int) -> float:
    import kubernetes_validate  # type: ignore[import-untyped]

    def once(_: int) -> float:
        start = time.perf_counter()
        for obj, version in todo:
            kubernetes_validate.validate(obj, version, strict=True)
        return time.perf_counter() - start
    return median_of(runs, once)


def nimgen_verify_seconds(todo: list[tuple[Doc, str]], runs: int) -> float:
    """nimgen's own check of the same objects against the same strict schemas (what `nimgen verify` and every build
    run per object), in this process as kubernetes-validate is."""
    from nimgen.verify.schemas import object_problems

    def once(_: int) -> float:
        start = time.perf_counter()
        for obj, version in todo:
            if object_problems(obj, version):
                sys.exit(f"bench: nimgen finds {obj['kind']} {obj['metadata']['name']} invalid: a nimgen bug")
        return time.perf_counter() - start
    return median_of(runs, once)


# ---------------------------------------------------------------------------------------------------------------
# The report


def composition(workloads: list[Generated]) -> str:
    rows = ["| dimension | value | " + " | ".join(ENVS) + " | total |", "|---|---|" + "---|" * (len(ENVS) + 1)]
    for dimension in ("store", "access", "backend", "kind", "pools", "env entries"):
        counts = Counter((w.tags[dimension], w.env) for w in workloads)
        for value in sorted({v for v, _ in counts}):
            cells = [str(counts[(value, env)]) for env in ENVS]
            rows.append(f"| {dimension} | {value} | " + " | ".join(cells) + f" | {sum(map(int, cells))} |")
    return "\n".join(rows)


def report(args: argparse.Namespace, workloads: list[Generated], objects: dict[Path, list[Doc]], validated: int,
           rows: list[tuple[str, float]], floor: float, peak_mib: float) -> str:
    per_env = ", ".join(f"{env} {sum(w.env == env for w in workloads)}" for env in ENVS)
    count = sum(len(docs) for docs in objects.values())
    lines = [
        f"nimgen bench, {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}",
        f"- machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        f"- command: {shlex.join(sys.orig_argv)}",
        f"- fleet: {len(workloads)} generated workloads ({per_env}) besides the examples'; "
        f"{count} objects in {len(objects)} files of out/, {validated} of built-in kinds",
        *(f"  - {o.name}: {o.about}" for o in OFFERS.values()),
        f"- median of {args.runs} run(s) each; peak RSS of the nimgen processes: {peak_mib:.0f} MiB",
        "",
        "| step | seconds | × floor |",
        "|---|---:|---:|",
    ]
    lines += ["| {} | crashed | |".format(label) if math.isnan(seconds) else
              f"| {label} | {seconds:.2f} | {seconds / floor:.2f} |" if seconds < floor / 10 else
              f"| {label} | {seconds:.2f} | {seconds / floor:.1f} |" for label, seconds in rows]
    lines += ["", "Fleet composition (generated workloads):", "", composition(workloads)]
    return "\n".join(lines)


def run(root: Path, args: argparse.Namespace) -> None:
    print(f"bench: generating {args.workloads} workloads in {root}", file=sys.stderr)
    workloads = make_fleet(root, args.workloads)
    nimgen(root, "validate")                 # exits with the problems when the fleet does not build
    one = next(w for w in workloads if w.env == "staging")
    rows = measure_nimgen(root, args.runs, root / "environments/staging/workloads" / f"{one.name}.yaml")
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    objects = load_out(root)
    floor = floor_seconds(objects, args.runs)
    todo = builtin_objects(root, objects)
    validate, ours = kubernetes_validate_seconds(todo, args.runs), nimgen_verify_seconds(todo, args.runs)
    rows += [("floor: yaml.dump_all with CSafeDumper", floor),
             (f"kubernetes_validate.validate(strict) of the {len(todo)} built-in objects", validate),
             (f"nimgen's check of the same {len(todo)} objects (verify/schemas.py object_problems)", ours)]
    print(report(args, workloads, objects, len(todo), rows, floor, peak_mib) +
          f"\n\nnimgen checks the built-in objects {validate / ours:.0f}× faster than kubernetes-validate.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", type=int, default=1200, help="generated workloads, over 3 environments")
    parser.add_argument("--runs", type=int, default=3, help="runs of each step (the median is reported)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="build the fleet in DIR (absent or empty) and keep it")
    args = parser.parse_args()
    if args.workloads < len(ENVS) or args.runs < 1:
        parser.error("--workloads must be at least 3 and --runs at least 1")
    require_libyaml()
    try:
        with fleet_folder(args.keep) as root:
            run(root, args)
    except Crashed as crash:
        sys.exit(f"bench: `{crash}` crashed twice: a nimgen bug (its traceback is above)")


@contextmanager
def fleet_folder(keep: Path | None) -> Iterator[Path]:
    """--keep DIR (absent or empty), kept; else a temporary folder, removed."""
    if keep:
        if keep.exists() and any(keep.iterdir()):
            sys.exit(f"bench: --keep {keep}: not empty")
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="nimgen-bench-") as tmp:
        yield Path(tmp)

if __name__ == "__main__":
    main()
