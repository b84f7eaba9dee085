"""Fuzz nimgen: N mutated inputs through `nimgen validate`, every k-th accepted one through the whole build.

    .venv/bin/python tools/fuzz.py --cases 2000             # the figures of the robustness issue
    .venv/bin/python tools/fuzz.py --seed 3 --case 117      # one case again, with its whole output

The mutations are those of tests/fuzz_mutations.py (type swaps, deletions, unicode, special numbers, DNS-invalid
names, aliases and merge keys, duplicate keys, BOMs and junk bytes, deep nesting, long values, Kubernetes fields,
NGC-key-looking strings, YAML tags, plausible edits, combinations), one file of a temporary copy of
tests/fixtures/repo per case. Each case is deterministic from (seed, case number).

Cases run in worker processes (--jobs), each with its own repository copy, so that a hang (per-case time limit) or
a crash (a segfault) is recorded and the worker replaced. Printed: cases, accepted, rejected, tracebacks (exit 2 or an
exception escaping the CLI), hangs, crashes, bad exit codes, echoed NGC keys, and for the builds: out/ changed on
error, accepted-but-invalid outputs (verify, with ../shared/crds/jsonschema when present, and the API server's
rules) and out/ not given back after reverting the input; then every failure grouped by cause with a minimal
reproduction. Exit status 1 when anything failed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tests"))
sys.path.insert(0, str(PROJECT))

import fuzz_mutations as fm  # noqa: E402


def chooser(seed: int, case: int) -> fm.RandomChooser:
    return fm.RandomChooser(random.Random(f"nimgen-fuzz:{seed}:{case}"))


def make_case(mutator: fm.Mutator, seed: int, case: int, families: list[str]) -> fm.Mutation:
    return mutator.mutate(chooser(seed, case), families[case % len(families)])


# ---------------------------------------------------------------------------------------------------------------
# worker side


def build_case(repo: fm.FuzzRepo, baseline: dict[str, bytes], m: fm.Mutation) -> dict:
    """The whole build of one mutation: exit 0/1, out/ untouched on error, verified when accepted, and out/ given
    back after the input is reverted."""
    out = repo.root / "out"
    before = fm.snapshot(out)
    with repo.applied(m):
        outcome = fm.run_cli(repo.root, "build", timeout=None)
        problems = fm.problems_of(outcome, m.secrets)
        if outcome.exit_code != 0 and fm.snapshot(out) != before:
            problems.append("out/ changed although the build failed")
        if outcome.exit_code == 0:
            problems += [f"accepted output: {p}" for p in fm.verify_accepted(repo.root, m.secrets)]
    again = fm.run_cli(repo.root, "build", timeout=None)
    if again.exit_code != 0 or fm.snapshot(out) != baseline:
        problems.append("reverting the input and building again does not give back out/")
        shutil.rmtree(out, ignore_errors=True)
        fm.run_cli(repo.root, "build", "--no-cache", timeout=None)
    return result_of(outcome, problems)


def result_of(outcome: fm.Outcome, problems: list[str]) -> dict:
    return {"exit": outcome.exit_code, "problems": problems, "seconds": outcome.seconds,
            "signature": fm.signature(outcome.output) if "Traceback" in outcome.output else "",
            "tail": fm.stderr_tail(outcome, lines=8), "output": outcome.output[-20000:]}


def worker_main(conn, root: str, exact: bool) -> None:
    import contextlib

    repo = fm.FuzzRepo(Path(root))
    baseline: dict[str, bytes] | None = None
    reuse = (contextlib.nullcontext() if exact else
             fm.reuse_unchanged_parses({repo.root / rel: b for rel, b in repo.mutator.originals.items()}))
    with reuse:
        while True:
            try:
                job = conn.recv()
            except EOFError:
                return
            if job is None:
                return
            op, m = job
            if op == "validate":
                outcome = repo.validate(m, timeout=None)
                conn.send(result_of(outcome, fm.problems_of(outcome, m.secrets)))
            else:
                if baseline is None:
                    first = fm.run_cli(repo.root, "build", timeout=None)
                    if first.exit_code != 0:
                        conn.send(result_of(first, [f"the unmutated repository does not build: {fm.stderr_tail(first)}"]))
                        continue
                    baseline = fm.snapshot(repo.root / "out")
                conn.send(build_case(repo, baseline, m))


# ---------------------------------------------------------------------------------------------------------------
# parent side


@dataclass
class Worker:
    number: int
    template: Path
    workdir: Path
    exact: bool
    queue: list[int] = field(default_factory=list)
    process: multiprocessing.Process | None = None
    conn: object = None
    job: tuple | None = None          # (case, op, mutation, deadline)
    accepted: int = 0
    generation: int = 0

    def start(self, ctx) -> None:
        root = self.workdir / f"worker-{self.number}-{self.generation}"
        shutil.copytree(self.template, root)
        self.generation += 1
        parent, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, str(root), self.exact), daemon=True)
        self.process.start()
        child.close()
        self.conn = parent

    def stop(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
        if self.process is not None:
            self.process.join(5)


@dataclass
class Record:
    case: int
    op: str
    family: str
    file: str
    note: str
    snippet: str
    content: bytes
    exit: int | None
    problems: list[str]
    signature: str
    tail: str
    output: str


def group_key(record: Record, problem: str) -> str:
    if record.signature and ("traceback" in problem or "exit code" in problem or "exception" in problem):
        return f"traceback: {record.signature}"
    if problem.startswith("hang") or problem.startswith("crash"):
        return problem.split(":")[0] + f" ({record.family})"
    text = problem
    if text.startswith("accepted output: "):
        text = "accepted but invalid: " + re.sub(r"^out/\S+?:(\d+:)*\s*", "", text[len("accepted output: "):])
        text = re.sub(r"^(accepted but invalid: )([A-Z]\w+) \S+: ", r"\1\2: ", text)
        text = re.sub(r"^(accepted but invalid: [\w.\[\]]+: )([A-Z]\w+) \S+: ", r"\1\2: ", text)
    text = re.sub(r"\S*\.\.\.<\d+ chars>\.\.\.\S*", "...", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'...'", text)
    text = re.sub(r"\[\d+\]", "[N]", text)
    text = re.sub(r"(?<![\w.])\d+(?![\w.])", "N", text)
    return text[:240]


def run(args) -> int:
    families = args.family or fm.FAMILIES
    unknown = set(families) - set(fm.FAMILIES)
    if unknown:
        sys.exit(f"unknown families: {', '.join(sorted(unknown))}; known: {', '.join(fm.FAMILIES)}")
    workdir = Path(tempfile.mkdtemp(prefix="nimgen-fuzz-"))
    template = fm.make_fuzz_repo(workdir / "template")
    mutator = fm.Mutator(template)
    if args.case is not None:
        return rerun(args, mutator, template, families)
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    workers = [Worker(w, template, workdir, args.exact) for w in range(args.jobs)]
    for case in range(args.cases):
        workers[case % args.jobs].queue.append(case)
    for w in workers:
        w.start(ctx)
    records: list[Record] = []
    counts: Counter = Counter()
    start = time.perf_counter()
    done = 0
    try:
        while any(w.queue or w.job for w in workers):
            for w in workers:
                if w.job is None and w.queue:
                    case = w.queue.pop(0)
                    m = make_case(mutator, args.seed, case, families)
                    w.conn.send(("validate", m))
                    w.job = (case, "validate", m, time.monotonic() + args.timeout)
            busy = [w for w in workers if w.job]
            timeout = max(0.0, min(w.job[3] for w in busy) - time.monotonic())
            ready = wait([w.conn for w in busy], timeout=timeout)
            for w in busy:
                case, op, m, deadline = w.job
                result = None
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):
                        w.process.join(5)
                        result = {"exit": None, "problems": [f"crash: worker died (exit {w.process.exitcode})"],
                                  "signature": "", "tail": "", "output": ""}
                elif time.monotonic() > deadline:
                    limit = args.timeout if op == "validate" else args.build_timeout
                    result = {"exit": None, "problems": [f"hang: no result after {limit} s"], "signature": "",
                              "tail": "", "output": ""}
                if result is None:
                    continue
                if result["exit"] not in (0, 1, 2, None):
                    counts["bad exit codes"] += 1
                if any(p.startswith(("hang", "crash")) for p in result["problems"]):
                    w.stop()
                    w.start(ctx)
                w.job = None
                tally(counts, op, result)
                if result["problems"]:
                    records.append(Record(case, op, m.family, m.file if not m.rename else f"{m.file} -> {m.rename}",
                                          m.note, m.snippet(), m.content, result["exit"], result["problems"],
                                          result["signature"], result["tail"], result["output"]))
                if op == "validate":
                    done += 1
                    if result["exit"] == 0 and not result["problems"]:
                        w.accepted += 1
                        if args.build_every and w.accepted % args.build_every == 0:
                            w.conn.send(("build", m))
                            w.job = (case, "build", m, time.monotonic() + args.build_timeout)
                    if not args.quiet and done % 250 == 0:
                        print(f"... {done}/{args.cases} cases, {len(records)} failure(s), "
                              f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    finally:
        for w in workers:
            try:
                w.conn.send(None)
            except (OSError, ValueError):
                pass
            w.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(args, counts, records, time.perf_counter() - start, families)
    return 1 if records else 0


def tally(counts: Counter, op: str, result: dict) -> None:
    problems = result["problems"]
    prefix = "" if op == "validate" else "build "
    counts[prefix + "cases"] += 1
    if result["exit"] == 0:
        counts[prefix + "accepted"] += 1
    elif result["exit"] == 1:
        counts[prefix + "rejected"] += 1
    if any(p.startswith(("exit code", "traceback", "exception")) for p in problems):
        counts[prefix + "tracebacks"] += 1
    for label, start in (("hangs", "hang"), ("crashes", "crash"), ("echoed NGC keys", "NGC-key"),
                         ("out/ changed on error", "out/ changed"), ("poisoned out/", "reverting")):
        if any(p.startswith(start) for p in problems):
            counts[prefix + label] += 1
    if any(p.startswith("accepted output") for p in problems):
        counts[prefix + "accepted-but-invalid outputs"] += 1


def print_report(args, counts: Counter, records: list[Record], seconds: float, families: list[str]) -> None:
    print(f"nimgen fuzz: seed {args.seed}, {len(families)} families, {args.jobs} job(s), {seconds:.0f} s"
          f"{' (exact: no parse reuse)' if args.exact else ''}")
    rows = [("cases (validate)", "cases"), ("  accepted (exit 0)", "accepted"), ("  rejected (exit 1)", "rejected"),
            ("  tracebacks (exit 2, exception)", "tracebacks"), ("  hangs (> %s s)" % args.timeout, "hangs"),
            ("  crashes (worker died)", "crashes"), ("  bad exit codes", "bad exit codes"),
            ("  NGC-key-looking strings echoed", "echoed NGC keys"),
            (f"builds (every {args.build_every}th accepted)", "build cases"),
            ("  accepted (exit 0)", "build accepted"), ("  rejected (exit 1)", "build rejected"),
            ("  tracebacks", "build tracebacks"), ("  hangs", "build hangs"), ("  crashes", "build crashes"),
            ("  out/ changed on error", "build out/ changed on error"),
            ("  accepted-but-invalid outputs", "build accepted-but-invalid outputs"),
            ("  NGC-key-looking strings echoed", "build echoed NGC keys"),
            ("  out/ not given back after revert", "build poisoned out/")]
    for label, key in rows:
        print(f"  {label:<40} {counts.get(key, 0):>6}")
    groups: dict[str, list[Record]] = {}
    for record in records:
        for key in dict.fromkeys(group_key(record, p) for p in record.problems):
            groups.setdefault(key, []).append(record)
    if not groups:
        print("no failures")
        return
    print(f"\n{len(records)} failing case(s) in {len(groups)} group(s), largest first:")
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)
    for number, (key, members) in enumerate(sorted(groups.items(), key=lambda kv: -len(kv[1])), 1):
        fams = Counter(r.family for r in members)
        ops = Counter(r.op for r in members)
        print(f"\n[{number}] {len(members)} x {key}")
        print(f"    families: {', '.join(f'{f} {n}' for f, n in fams.most_common())}; "
              f"in: {', '.join(f'{o} {n}' for o, n in ops.items())}")
        for r in members[:args.examples]:
            print(f"    case {r.case} ({r.op}, exit {r.exit}) {r.file}: {fm.short(r.note, 160)}")
            print(f"    rerun: .venv/bin/python tools/fuzz.py --seed {args.seed} --case {r.case}"
                  f"{' --build' if r.op == 'build' else ''}"
                  + (f" --family {' --family '.join(args.family)}" if args.family else ""))
            print("      " + r.snippet.replace("\n", "\n      "))
            for problem in r.problems[:3]:
                print(f"    problem: {fm.short(problem, 300)}")
            print("    output:\n      " + (r.tail or "(none)").replace("\n", "\n      "))
            if save:
                stem = save / f"{number:02d}-case-{r.case}"
                stem.with_suffix(".input").write_bytes(r.content)
                stem.with_suffix(".txt").write_text(f"{key}\n{r.file}: {r.note}\n{r.problems}\n\n{r.output}\n",
                                                    errors="backslashreplace")


def rerun(args, mutator: fm.Mutator, template: Path, families: list[str]) -> int:
    """One case, in this process, with its whole output."""
    m = make_case(mutator, args.seed, args.case, families)
    print(m.describe())
    repo = fm.FuzzRepo(template)
    outcome = repo.validate(m, timeout=args.timeout)
    problems = fm.problems_of(outcome, m.secrets)
    print(f"\n--- nimgen validate{' --env ' + m.env if m.env else ''}: exit {outcome.exit_code}"
          f"{' (hang)' if outcome.hang else ''}, {outcome.seconds:.2f} s\n{outcome.output}")
    if args.build:
        assert fm.run_cli(template, "build").exit_code == 0, "the unmutated repository does not build"
        baseline = fm.snapshot(template / "out")
        built = build_case(repo, baseline, m)
        print(f"--- nimgen build: exit {built['exit']}\n{built['output']}")
        problems += built["problems"]
    if args.save:
        Path(args.save).write_bytes(m.content)
        print(f"mutated file written to {args.save}")
    print("problems:" if problems else "no problem", *problems, sep="\n  ")
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000, help="number of mutated inputs (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="the cases are a function of (seed, case number)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes")
    parser.add_argument("--build-every", type=int, default=10,
                        help="build every k-th accepted case of each worker (0: never; default 10)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per validate case (a hang)")
    parser.add_argument("--build-timeout", type=float, default=120.0, help="seconds per build case")
    parser.add_argument("--family", action="append", help=f"only these families: {', '.join(fm.FAMILIES)}")
    parser.add_argument("--exact", action="store_true",
                        help="parse and validate every unchanged input again in each case (slower)")
    parser.add_argument("--examples", type=int, default=1, help="examples printed per failure group")
    parser.add_argument("--save", help="folder for the mutated input and output of each group's examples "
                                       "(with --case: the file to write the mutated input to)")
    parser.add_argument("--case", type=int, help="run only this case, in-process, and print its whole output")
    parser.add_argument("--build", action="store_true", help="with --case: also run the whole build")
    parser.add_argument("--keep", action="store_true", help="keep the temporary repositories")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    sys.exit(run(parser.parse_args()))


if __name__ == "__main__":
    main()
