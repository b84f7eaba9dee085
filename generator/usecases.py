"""The use cases the CLI offers: build, check, plan, validate, explain, verify, crd-schemas. Each runs the stages
in one direction (inputs -> resolve -> render) and returns values; printing is the CLI's job.

A use case either returns its result or raises BuildFailed with every problem found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, TextIO

from .crd_schemas import Converted, convert, schema_text
from .diagnostics import WARNING, BuildFailed, Diagnostic, errors_in
from .inputs import sources
from .inputs.reader import Reader
from .model import ResolvedEnvironment, Workload
from .output import commit
from .output.read import out_manifests, read_out
from .render import facts_of, fingerprint, render_environment
from .render.cache import BuildCache
from .report.diff import Difference, differences
from .resolve import resolve
from .verify import cluster_rules
from .verify.kubeconform import kubeconform
from .verify.schemas import verify_file

CACHE_DIR = Path(".nimgen") / "cache"


@dataclass
class Compiled:
    files: dict[str, dict[str, str]]            # environment -> relpath -> text
    resolved: dict[str, ResolvedEnvironment]
    warnings: list[Diagnostic]


def compile_all(root: Path, only: list[str] | None = None, use_cache: bool = True, render: bool = True) -> Compiled:
    """Run every stage for the selected environments; raise BuildFailed with every problem found."""
    selected, unknown = sources.select_environments(root, only)
    if unknown:
        raise BuildFailed(unknown)
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


LOCK_FILE = Path(".nimgen") / "build.lock"
LOCK_TIMEOUT = 600.0                            # seconds a build waits for another one (NIMGEN_LOCK_TIMEOUT)


@dataclass
class Built:
    compiled: Compiled
    changed: int                                # environment folders written or removed


def build(root: Path, only: list[str] | None = None, use_cache: bool = True,
          on_wait: Callable[[str], None] | None = None) -> Built:
    """Render out/<env>/ for the selected environments; out/ changes only when the whole build verified, and then
    in one atomic switch of every environment (output/commit.py: the protocol, and what a kill leaves). One build
    runs at a time: a second one waits for the build lock (on_wait tells why) up to LOCK_TIMEOUT seconds."""
    with commit.build_lock(root, root / LOCK_FILE, _lock_timeout(), on_wait):
        target = commit.out_target(root)
        commit.recover(root, target)
        compiled = compile_all(root, only, use_cache=use_cache)
        commit.check_environments(root, target, sorted(compiled.files))
        current = read_out(target, compiled.files)
        write = {env: files for env, files in compiled.files.items()
                 if current.get(env) != {k: v.encode() for k, v in files.items()}}
        # a full build also removes environments that no longer exist
        drop = set() if only else {env for env in current if env not in compiled.files}
        if write or drop:
            commit.commit(root, target, write, drop)
    return Built(compiled, len(write) + len(drop))


def _lock_timeout() -> float:
    try:
        return float(os.environ.get("NIMGEN_LOCK_TIMEOUT", LOCK_TIMEOUT))
    except ValueError:
        return LOCK_TIMEOUT


def diff_out(root: Path, trust_cache: bool = True) -> list[Difference]:
    """Every difference between out/ and a fresh build. `plan` (what a build would change) reads the build cache
    as the build does: only entries whose integrity seal matches (render/cache.py). `check` is the independent
    verdict that out/ is what the inputs produce, so it renders everything afresh and trusts no cache entry."""
    compiled = compile_all(root, use_cache=trust_cache)
    fresh = {env: {k: v.encode() for k, v in files.items()} for env, files in compiled.files.items()}
    return differences(fresh, read_out(root / "out", fresh))


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


# verify: the committed out/ against the schemas, and crd-schemas: a cluster's CRDs into a schema location

OUT_HINT = "out/ was edited by hand or built by another nimgen: 'nimgen check' shows how it differs from a fresh build"


@dataclass(frozen=True)
class Verified:
    problems: list[Diagnostic]                  # warnings included
    objects: int                                # how many objects were checked
    environments: int


def verify_out(root: Path, envs: list[str] | None = None, schema_locations: Sequence[Path] = ()) -> Verified:
    """Every object of the committed out/<env>/ against the strict Kubernetes schemas of the environment's
    Kubernetes version, the project's CRD schemas and each schema location (and kubeconform when on PATH), and
    the cluster rules. Raises BuildFailed when the inputs, out/ or a location is unusable."""
    locations = [Path(location) for location in schema_locations]
    problems: list[Diagnostic] = []
    for location in locations:
        if not location.is_dir():
            problems.append(Diagnostic(str(location), 1, 1, "$", f"schema location {location} is not a folder",
                                       "give a folder of {group}/{kind}_{version}.json files, such as "
                                       "'nimgen crd-schemas' writes"))
        elif not any(location.glob("*/*.json")) and not any(location.glob("*.json")):
            problems.append(Diagnostic(str(location), 1, 1, "$",
                                       f"schema location {location} holds no {{group}}/{{kind}}_{{version}}.json file",
                                       "it checks nothing; did you mean a folder below it?", WARNING))
    if errors_in(problems):
        raise BuildFailed(problems)
    manifests = out_manifests(root, envs)
    resolved = compile_all(root, sorted(manifests), render=False).resolved
    for env, files in manifests.items():
        version = resolved[env].environment.kubernetes_version
        for relpath, manifest in files.items():
            problems.extend(verify_file(f"out/{env}/{relpath}", manifest.text, manifest.objects, version,
                                        locations, hint=OUT_HINT))
        problems.extend(kubeconform(root / "out" / env, version, f"out/{env}", locations))
        problems.extend(cluster_rules.check({r: (m.text, m.objects) for r, m in files.items()},
                                            facts_of(resolved[env]), f"out/{env}"))
    objects = sum(len(m.objects) for files in manifests.values() for m in files.values())
    return Verified(problems, objects, len(manifests))


def crd_schemas(files: Sequence[str], out: Path, stdin: TextIO) -> Converted:
    """Convert the CRDs of the given files ('-' is stdin) into out/{group}/{kind}_{version}.json. Raises
    BuildFailed when an input is unreadable or not YAML, or no input holds a CRD; returns the warnings."""
    converted = Converted()
    for name in files or ["-"]:
        shown = "<stdin>" if name == "-" else name
        if name == "-" and stdin.isatty():
            converted.problems.append(Diagnostic(shown, 1, 1, "$", "no input: stdin is a terminal",
                                                 "give CRD files, or pipe 'kubectl get crd -o yaml'"))
            continue
        try:
            text = stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            converted.problems.append(Diagnostic(shown, 1, 1, "$", f"cannot read file: {exc}"))
            continue
        convert(text, shown, converted)
    if not converted.crds and not errors_in(converted.problems):
        converted.problems.append(Diagnostic(", ".join("<stdin>" if f == "-" else f for f in files or ["-"]), 1, 1,
                                             "$", "no CustomResourceDefinition found",
                                             "give CRD files, or pipe 'kubectl get crd -o yaml'"))
    if errors_in(converted.problems):
        raise BuildFailed(converted.problems)
    for relpath, schema in converted.schemas.items():
        target = out / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(schema_text(schema), encoding="utf-8")
    return converted
