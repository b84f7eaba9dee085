"""The use cases the CLI offers: build, check, plan, validate, explain. Each runs the stages in one direction
(inputs -> resolve -> render) and returns values; printing is the CLI's job.

A use case either returns its result or raises BuildFailed with every problem found.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from .diagnostics import BuildFailed, Diagnostic, errors_in
from .inputs import sources
from .inputs.reader import Reader
from .model import ResolvedEnvironment, Workload
from .render import emit, fingerprint, render_environment
from .render.cache import BuildCache
from .report.diff import Difference, differences
from .resolve import resolve

CACHE_DIR = Path(".nimgen") / "cache"


@dataclass
class Compiled:
    files: dict[str, dict[str, str]]            # environment -> relpath -> text
    resolved: dict[str, ResolvedEnvironment]
    warnings: list[Diagnostic]


def compile_all(root: Path, only: list[str] | None = None, use_cache: bool = True, render: bool = True) -> Compiled:
    """Run every stage for the selected environments; raise BuildFailed with every problem found."""
    names = sources.environment_names(root)
    if not names:
        raise BuildFailed([Diagnostic("environments", 1, 1, "$", "no environments found",
                                      "create environments/<name>/environment.yaml")])
    for name in only or []:
        if name not in names:
            raise BuildFailed([Diagnostic(f"environments/{name}", 1, 1, "$", f"unknown environment '{name}'",
                                          f"known: {', '.join(names)}")])
    selected = only or names
    reader = Reader(root)
    shared = reader.shared_gallery()
    problems: list[Diagnostic] = []
    resolved: dict[str, ResolvedEnvironment] = {}
    for name in selected:
        inputs = reader.environment(name, shared)
        if inputs.environment is None:
            continue
        result, found = resolve(name, inputs)
        problems.extend(found)
        if result is not None:
            resolved[name] = result
    # a base file is shared by every environment: report each of its problems once
    problems = sorted(set(reader.problems + problems))
    if errors_in(problems):
        raise BuildFailed(problems)
    files: dict[str, dict[str, str]] = {}
    if render:
        cache = BuildCache(root / CACHE_DIR, fingerprint()) if use_cache else None
        for name in selected:
            rendered = render_environment(resolved[name], cache)
            problems.extend(rendered.problems)
            files[name] = rendered.files
        if errors_in(problems):
            raise BuildFailed(problems)
    return Compiled(files, resolved, problems)


def _out_environments(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) if out.is_dir() else []


@dataclass
class Built:
    compiled: Compiled
    changed: int                                # environment folders written or removed


def build(root: Path, only: list[str] | None = None, use_cache: bool = True) -> Built:
    """Render out/<env>/ for the selected environments; out/ changes only when the whole build verified."""
    compiled = compile_all(root, only, use_cache=use_cache)
    out = root / "out"
    changed = 0
    for env, files in compiled.files.items():
        if emit.read_tree(out / env) != {k: v.encode() for k, v in files.items()}:
            emit.write_tree(files, out / env)
            changed += 1
    if not only:  # a full build also removes environments that no longer exist
        for stale in _out_environments(out):
            if stale not in compiled.files:
                shutil.rmtree(out / stale)
                changed += 1
    return Built(compiled, changed)


def diff_out(root: Path) -> list[Difference]:
    """Every difference between out/ and a fresh build (for check and plan)."""
    compiled = compile_all(root)
    out = root / "out"
    fresh = {env: {k: v.encode() for k, v in files.items()} for env, files in compiled.files.items()}
    current = {env: emit.read_tree(out / env) for env in set(_out_environments(out)) | set(fresh)}
    return differences(fresh, current)


def validate(root: Path, only: list[str] | None = None) -> Compiled:
    return compile_all(root, only, render=False)


class NotFound(Exception):
    """A name on the command line that matches nothing (not an input error: nothing to locate)."""


def find_workload(root: Path, env: str, workload: str, project: str | None) -> tuple[ResolvedEnvironment, Workload]:
    compiled = compile_all(root, [env], render=False)
    resolved = compiled.resolved[env]
    matches = [w for w in resolved.workloads if w.name == workload and (project is None or w.project == project)]
    if not matches:
        raise NotFound(f"no workload '{workload}' in environment {env}")
    if len(matches) > 1:
        raise NotFound(f"workload '{workload}' exists in several projects: use --project")
    return resolved, matches[0]
