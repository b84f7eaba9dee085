"""Mutation testing of the deciding modules with mutmut 3 (`make mutate`; never in CI).

mutmut never touches generator/: it runs in a scratch copy, .nimgen/mutate/<label>/, of the working tree (or of
one commit, --rev), in which the source folder is named nimgen/. mutmut names a mutant after its file's path and a
mutated function compares that name with its own __module__ at run time, so the two agree only when the path is
the import name. mutmut puts the copy's mutants/ first on sys.path, ahead of the venv's editable finder (a meta
path hook after the path finder), so `import nimgen` in the tests loads the mutants; its forced-fail run checks it.

mutmut runs the chosen tests once to learn which of them call each function, then runs only those on that
function's mutants (-x, cheapest first; a meaning test module whole, see pytest_configure). Where the tree has a
[tool.mypy] configuration, mypy first rejects the mutants that `make check` would (None for a str, a dropped
argument): they count as killed, in their own column, and cost no test run. Each mutant runs in a process forked
from a server that has not imported cdk8s: importing it starts the jsii Node.js process, which forked children
must not share.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

PROJECT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MUTATED = ["nimgen/resolve/access.py", "nimgen/resolve/projects.py", "nimgen/resolve/scaling.py",
           "nimgen/resolve/storage.py", "nimgen/resolve/service.py", "nimgen/construct/*.py"]
# The tests run on mutants: those written to pin down what resolve decides and construct renders, on small builds
# and on the model (seconds a mutant). --all-tests adds the end-to-end suites, each test of which compiles a whole
# fixture repository and calls every resolve function: hours for the whole list on two cores.
TESTS = ["test_meaning_*.py", "test_construct.py"]
ALL_TESTS = TESTS + ["test_resolve.py", "test_decisions.py", "test_cluster_decisions.py", "test_errors.py",
                     "test_names_and_namespaces.py", "test_build.py", "test_rendered.py", "test_cluster_rules.py"]
# Imported by the fork server before it forks a worker per mutant; never cdk8s (see above).
PRELOAD = ["yaml", "jsonschema", "click.testing", "hypothesis", "nimgen.cli", "nimgen.usecases", "nimgen.model"]
KILLED = {"killed", "timeout", "caught by type check"}
COLUMNS = {"killed": "killed", "caught by type check": "mypy", "timeout": "timeout", "survived": "survived",
           "no tests": "no tests", "not checked": "not run"}


def lines(values: Iterable[object]) -> str:
    """A list value of setup.cfg: one item a line."""
    return "".join(f"\n    {v}" for v in values)


def scratch_copy(rev: str | None, dest: Path, patterns: list[str]) -> None:
    """The tree of REV (or the working tree, uncommitted files too) with generator/ renamed nimgen/."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if rev:
        archive = subprocess.run(["git", "-C", str(PROJECT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        listed = subprocess.run(["git", "-C", str(PROJECT), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], check=True, capture_output=True, text=True).stdout
        for name in filter(None, listed.split("\0")):
            if (PROJECT / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(PROJECT / name, dest / name)
    (dest / "generator").rename(dest / "nimgen")
    if (PROJECT.parent / "shared").is_dir():  # conftest's ../shared, seen from mutants/
        (dest / "shared").symlink_to(PROJECT.parent / "shared")
    shutil.copy(__file__, dest / "mutate_order.py")  # the pytest plugin below
    tests = [str(p.relative_to(dest)) for pattern in patterns for p in dest.glob(f"tests/{pattern}")]
    also_copy = sorted(p.name for p in dest.iterdir() if p.name not in {"nimgen", "shared"})
    (dest / "mutate-preload.txt").write_text("\n".join(PRELOAD) + "\n")
    (dest / "setup.cfg").write_text(
        "[mutmut]\nsource_paths = nimgen\n"
        f"only_mutate ={lines(MUTATED)}\n"
        f"also_copy ={lines(also_copy)}\n"
        f"pytest_add_cli_args_test_selection ={lines(sorted(tests))}\n"
        "pytest_add_cli_args =\n    -p\n    no:cacheprovider\n    -p\n    mutate_order\n"
        "process_isolation = forkserver\nforkserver_warmup = import\npreload_modules_file = mutate-preload.txt\n"
        "use_git_change_detection = false\n"
        # mutmut times a mutant out after 15 x (1 s + its tests' run time), the latter as measured in its stats run:
        # it misses a meaning module's build (counted to one test) and the whole module that runs (see below).
        "timeout_constant = 20\n")
    if "[tool.mypy]" in (dest / "pyproject.toml").read_text() and (VENV_BIN / "mypy").exists():
        with (dest / "setup.cfg").open("a") as cfg:  # the generated trampolines carry type: ignore comments
            mypy = [sys.executable, "-m", "mypy", "nimgen", "--output", "json", "--no-warn-unused-ignores"]
            cfg.write(f"type_check_command ={lines(mypy)}\n")


def pytest_configure(config: Any) -> None:
    """Pytest hook of the plugin mutate_order. A meaning test module builds once for all its tests, so mutmut links
    only its first test to the functions the build calls: run the whole module instead."""
    config.args[:] = dict.fromkeys(arg.split("::")[0] if "/test_meaning_" in arg else arg for arg in config.args)


COSTS = Path("mutate-module-costs.json")  # seconds each test module took in the first (whole) run, in the scratch copy
_took: Counter[str] = Counter()


def pytest_runtest_logreport(report: Any) -> None:
    """Pytest hook of the plugin mutate_order: a module's cost is its tests' setup (the build) and calls."""
    _took[report.nodeid.split("::")[0]] += report.duration


def pytest_sessionfinish() -> None:
    """Pytest hook of the plugin mutate_order: the first run (mutmut's stats run, every test) records the costs."""
    if not COSTS.exists() and len(_took) > 1:
        COSTS.write_text(json.dumps(_took, indent=1, sort_keys=True))


def pytest_collection_modifyitems(items: list[Any]) -> None:
    """Pytest hook of the plugin mutate_order, in mutants/: a mutant's cheapest tests first, so -x kills it soon.
    A meaning module's first test pays for the build all its tests read, so whole modules are ordered by what they
    took in the first run (mutmut's own figures count a test's call, not its share of a module's build); the rest
    of the tests, each by what mutmut measured, go first."""
    stats = Path("mutmut-stats.json")
    took = json.loads(stats.read_text())["duration_by_test"] if stats.exists() else {}
    module_cost = json.loads(COSTS.read_text()) if COSTS.exists() else {}

    def cost(item: Any) -> tuple[float, str, float]:
        module = item.nodeid.split("::")[0]
        meaning = "/test_meaning_" in module
        return (module_cost.get(module, 1e9) if meaning else 0.0), (module if meaning else ""), took.get(item.nodeid, 0.0)
    items.sort(key=cost)


def source_line(path: Path, mutant: str, diff: str) -> int:
    """The line of the source file that the mutant changes (the first '-' line of its diff)."""
    diff_lines = diff.splitlines()
    removed = next((i for i, line in enumerate(diff_lines) if line[:1] == "-" and not line.startswith("---")), None)
    if removed is None:
        return 0
    hunk = next(line for line in diff_lines if line.startswith("@@"))
    offset = int(hunk.split()[1].lstrip("-").split(",")[0]) + sum(
        1 for line in diff_lines[diff_lines.index(hunk) + 1:removed] if not line.startswith("+"))
    name = mutant.rpartition(".")[2].partition("__mutmut_")[0].rpartition("ǁ")[2].removeprefix("x_")
    text = diff_lines[removed][1:].strip()
    source = path.read_text().splitlines()
    for node in ast.walk(ast.parse("\n".join(source))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            found = [n for n in range(start, (node.end_lineno or start) + 1) if source[n - 1].strip() == text]
            if found:
                return min(found, key=lambda n: abs(n - start + 1 - offset))
    return 0


def report(scratch: Path, show: bool) -> float:
    os.chdir(scratch)  # mutmut reads its configuration and mutants/ from the working directory
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    rows, survivors, untested = [], [], Counter[str]()
    for meta in sorted(Path("mutants/nimgen").rglob("*.py.meta")):
        path = Path(str(meta.relative_to("mutants"))[:-len(".meta")])
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        rows.append((str(path).removeprefix("nimgen/"), Counter(status_by_exit_code[c] for c in codes.values())))
        survivors += [(path, m) for m, c in codes.items() if status_by_exit_code[c] == "survived"]
        untested.update(f"generator/{path.relative_to('nimgen')} {m.partition('__mutmut_')[0].rpartition('.')[2]}"
                        for m, c in codes.items() if status_by_exit_code[c] == "no tests")
    total: Counter[str] = sum((count for _, count in rows), Counter())
    print(f"\n{'module':28}{'mutants':>8}" + "".join(f"{c:>9}" for c in COLUMNS.values()) + "    score")
    for name, count in rows + [("total", total)]:
        n = sum(count.values())
        print(f"{name:28}{n:8}" + "".join(f"{count[s]:9}" for s in COLUMNS)
              + f"   {100 * sum(count[s] for s in KILLED) / max(n, 1):5.1f}%")
    odd = {s: c for s, c in total.items() if s not in COLUMNS}
    if odd:
        print(f"other outcomes: {odd}")
    tested = sum(total.values()) - total["caught by type check"]
    print(f"score: (killed + mypy + timeout) / mutants; the tests alone: {total['killed'] + total['timeout']} of the "
          f"{tested} mutants mypy let through, {100 * (total['killed'] + total['timeout']) / max(tested, 1):.1f}%")
    if untested:
        print(f"\nFunctions none of the tests calls ({sum(untested.values())} mutants):")
        print("\n".join(f"  {function} ({n})" for function, n in sorted(untested.items())))
    print(f"\n{len(survivors)} mutants survived:")
    for path, mutant in survivors:
        diff = get_diff_for_mutant(mutant, path=path)
        change = " | ".join(line for line in diff.splitlines()[2:] if line[:1] in "+-")
        print(f"  generator/{path.relative_to('nimgen')}:{source_line(path, mutant, diff)}  {mutant}  {change}")
        if show:
            print("\n".join("      " + line for line in diff.splitlines()[2:]))
    print(f"\nDiff of one: cd {scratch} && {VENV_BIN}/mutmut show NAME")
    return 100 * sum(total[s] for s in KILLED) / max(sum(total.values()), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="mutate this commit's tree instead of the working tree")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--all-tests", action="store_true", help="also the end-to-end test files (hours)")
    parser.add_argument("--resume", action="store_true", help="go on with the last run of this tree (after Ctrl-C)")
    parser.add_argument("--report", action="store_true", help="only print the report of the last run")
    parser.add_argument("--diffs", action="store_true", help="print each survivor's whole diff")
    parser.add_argument("--label", help="name of the scratch copy (default: the commit, or 'worktree')")
    parser.add_argument("mutants", nargs="*", help="only these mutants, e.g. 'nimgen.resolve.access.*'")
    args = parser.parse_args()
    label = subprocess.run(["git", "-C", str(PROJECT), "rev-parse", "--short", args.rev], check=True,
                           capture_output=True, text=True).stdout.strip() if args.rev else "worktree"
    label = args.label or label
    scratch = PROJECT / ".nimgen" / "mutate" / label
    if not args.report:
        started = time.monotonic()
        if not (args.resume and scratch.exists()):
            scratch_copy(args.rev, scratch, ALL_TESTS if args.all_tests else TESTS)
        run = subprocess.run(["nice", "-n", "19", str(VENV_BIN / "mutmut"), "run", "--max-children", str(args.jobs),
                              *args.mutants],
                             cwd=scratch)
        print(f"\nmutmut exited {run.returncode} after {time.monotonic() - started:.0f} s")
        if run.returncode:
            return run.returncode
    score = report(scratch, args.diffs)
    print(f"mutation score {score:.1f}% ({label})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
