"""The use cases the CLI offers: build, check, plan, validate, explain, verify, crd-schemas. Each runs the stages
in one direction (inputs -> resolve -> render) and returns values; printing is the CLI's job.

A use case either returns its result or raises BuildFailed with every problem found.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import sys
from importlib import metadata as pkg_metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from . import resources
from .crd_schemas import Converted, convert, schema_text
from .diagnostics import WARNING, BuildFailed, Diagnostic, errors_in
from .inputs import sources
from .inputs.load import Document
from .inputs.reader import GalleryDocuments, InputSet, Reader
from .inputs.validate import SCHEMA_DIR, SCHEMA_FILES
from .model import Environment, NodePool, Profile, ResolvedEnvironment, Workload
from .output import commit, record
from .output.read import is_manifest, out_manifests, read_out, read_tree
from .render import facts_of, fingerprint, render_environments, render_gitops
from .render.workers import Workers
from .render.cache import BuildCache
from .report.catalog import (ClaimSource, ExistingClaim, ListedCompute, ListedDataSource, ListedModel, ListedProfile,
                             ListedVersion, ModelListing, NewClaim, Origin, PoolFit, PoolMisfit, TemplateListing)
from .manifests import read_manifest
from .render.layout import GITOPS, SUMMARY
from .report import plan as plan_report
from .report.diff import Difference, differences
from .resolve import resolve
from .resolve.gitops import gitops_files
from .resolve.catalog import catalog_model
from .resolve.environment import environment_problems, resolve_environment
from .resolve.gpus import pool_of
from .resolve.images import mirrored
from .resolve.profiles import check_profile
from .verify import cluster_rules
from .verify.kubeconform import kubeconform
from .verify.schemas import verify_file

CACHE_DIR = Path(".nimgen") / "cache"


@dataclass
class Compiled:
    files: dict[str, dict[str, str]]            # environment -> relpath -> text
    resolved: dict[str, ResolvedEnvironment]
    warnings: list[Diagnostic]


def compile_all(root: Path, only: list[str] | None = None, use_cache: bool = True, render: bool = True,
                progress: Callable[[str], None] | None = None) -> Compiled:
    """Run every stage for the selected environments; raise BuildFailed with every problem found. `progress` hears
    which environment is being rendered (a terminal shows it)."""
    selected, unknown = sources.select_environments(root, only)
    if GITOPS in selected:
        unknown.append(Diagnostic(f"environments/{GITOPS}", 1, 1, "$", f"an environment cannot be named {GITOPS}: "
                                  f"out/{GITOPS}/ holds the Argo CD and Flux objects that sync the environments",
                                  "rename the folder"))
    if unknown:
        raise BuildFailed(unknown)
    cache = BuildCache(root / CACHE_DIR, fingerprint()) if use_cache and render else None
    with Workers() as helpers:
        # a build that constructs every file starts its helper processes now: they are ready when the inputs are
        if render and (cache is None or cache.empty()) and helpers.worth_it(sources.workload_count(root, selected)):
            helpers.start()
        resolved, problems = _resolve_all(root, selected)
        files: dict[str, dict[str, str]] = {}
        if render:
            for name, rendered in render_environments([resolved[n] for n in selected], cache, helpers, progress):
                problems.extend(rendered.problems)
                files[name] = rendered.files
            # out/gitops/ lists every environment: only a build of all of them renders it (a build of some leaves it)
            synced = gitops_files(resolved) if only is None else None
            if synced is not None and (synced.applications or synced.flux):
                rendered = render_gitops(synced.applications, synced.flux, newest_kubernetes(resolved), cache, helpers)
                problems.extend(rendered.problems)
                files[GITOPS] = rendered.files
            if errors_in(problems):
                raise BuildFailed(problems)
    return Compiled(files, resolved, problems)


def _resolve_all(root: Path, selected: list[str]) -> tuple[dict[str, ResolvedEnvironment], list[Diagnostic]]:
    """Read, validate and resolve the selected environments; raise BuildFailed when any input has an error."""
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
    return resolved, problems


def newest_kubernetes(resolved: dict[str, ResolvedEnvironment]) -> str:
    """The newest Kubernetes version of the environments: what out/gitops/ (applied beside them all) is checked
    against."""
    return max((r.environment.kubernetes_version for r in resolved.values()),
               key=lambda v: tuple(int(x) for x in v.split(".")))


LOCK_FILE = Path(".nimgen") / "build.lock"
LOCK_TIMEOUT = 600.0                            # seconds a build waits for another one (NIMGEN_LOCK_TIMEOUT)


@dataclass
class Built:
    environments: int
    workloads: int
    warnings: list[Diagnostic]
    changed: int                                # environment folders written or removed
    nothing_to_do: bool = False                 # the inputs, nimgen and out/ are as the last build left them


def build(root: Path, only: list[str] | None = None, use_cache: bool = True,
          on_wait: Callable[[str], None] | None = None, progress: Callable[[str], None] | None = None) -> Built:
    """Render out/<env>/ for the selected environments; out/ changes only when the whole build verified, and then
    in one atomic switch of every environment (output/commit.py: the protocol, and what a kill leaves). One build
    runs at a time: a second one waits for the build lock (on_wait tells why) up to LOCK_TIMEOUT seconds.

    A build of every environment first compares the inputs, nimgen itself and out/ with the record of the last
    full build (output/record.py): when nothing changed there is nothing to do."""
    with commit.build_lock(root, root / LOCK_FILE, _lock_timeout(), on_wait):
        target = commit.out_target(root)
        commit.recover(root, target)
        state = record.current_state(root, target, build_fingerprint()) if only is None else None
        last = record.load(root) if state is not None and use_cache else None
        if state is not None and last is not None and last.state == state:
            return Built(last.environments, last.workloads, last.warnings, 0, nothing_to_do=True)
        record.forget(root)                     # from here on out/ may change: the record no longer describes it
        compiled = compile_all(root, only, use_cache=use_cache, progress=progress)
        commit.check_environments(root, target, sorted(compiled.files))
        current = read_out(target, compiled.files)
        write = {env: files for env, files in compiled.files.items()
                 if current.get(env) != {k: v.encode() for k, v in files.items()}}
        # a full build also removes environments that no longer exist
        drop = set() if only else {env for env in current if env not in compiled.files}
        if write or drop:
            commit.commit(root, target, write, drop)
        workloads = sum(len(r.workloads) for r in compiled.resolved.values())
        if state is not None and record.input_hashes(root) == state.inputs:   # no input changed while building
            record.save(root, record.Record(record.State(state.fingerprint, state.inputs, record.out_hashes(target)),
                                            len(compiled.resolved), workloads, compiled.warnings))
    return Built(len(compiled.resolved), workloads, compiled.warnings, len(write) + len(drop))


def build_fingerprint() -> str:
    """Everything besides the inputs that decides out/ and its warnings: nimgen's code and CRD schemas (the cache's
    fingerprint), its input schemas and text templates, and the versions of Python and every library it runs."""
    digest = hashlib.sha256(fingerprint().encode())
    for folder, pattern in ((resources.SCHEMA_DIR, "*.json"), (resources.TEXT_TEMPLATES, "*.j2")):
        for path in sorted(folder.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(sys.version.encode())
    for dist in ("click", "jsonschema", "Jinja2", "filelock", "nimgen"):
        try:
            digest.update(f"{dist}={pkg_metadata.version(dist)}".encode())
        except pkg_metadata.PackageNotFoundError:
            digest.update(f"{dist}=?".encode())
    return digest.hexdigest()


def _lock_timeout() -> float:
    try:
        return float(os.environ.get("NIMGEN_LOCK_TIMEOUT", LOCK_TIMEOUT))
    except ValueError:
        return LOCK_TIMEOUT


@dataclass(frozen=True)
class Differences:
    differences: list[Difference]
    warnings: list[Diagnostic]


def diff_out(root: Path, only: list[str] | None = None, trust_cache: bool = True) -> Differences:
    """Every difference between out/ and a fresh build of the selected environments (all by default: then an
    out/<env>/ no environment renders any more is a difference too). `plan` and `diff` (what a build would change)
    read the build cache as the build does: only entries whose integrity seal matches (render/cache.py). `check`
    is the independent verdict that out/ is what the inputs produce, so it renders everything afresh and trusts
    no cache entry."""
    compiled, fresh, current = _fresh_and_committed(root, only, trust_cache)
    return Differences(differences(fresh, current), compiled.warnings)


def _fresh_and_committed(root: Path, only: list[str] | None, trust_cache: bool = True
                         ) -> tuple[Compiled, dict[str, dict[str, bytes]], dict[str, dict[str, bytes]]]:
    """A fresh build of the selected environments, its files as bytes, and out/'s files of the same environments
    (of every folder in out/ when all are selected)."""
    compiled = compile_all(root, only, use_cache=trust_cache)
    fresh = {env: {k: v.encode() for k, v in files.items()} for env, files in compiled.files.items()}
    current = read_out(root / "out", fresh)
    if only:
        current = {env: files for env, files in current.items() if env in fresh}
    return compiled, fresh, current


def _objects(files: dict[str, bytes], env: str, other: dict[str, bytes]) -> plan_report.Objects:
    """The objects of the files that differ from `other` (the other side of the plan): an object of a file that is
    the same on both sides is on both, so it is neither deleted nor changed, and its file is not read."""
    found: plan_report.Objects = {}
    for relpath, data in files.items():
        if not is_manifest(relpath) or other.get(relpath) == data:
            continue
        manifest, _ = read_manifest(data.decode(errors="replace"), f"out/{env}/{relpath}")
        for o in manifest.objects if manifest else []:
            meta = o.get("metadata", {}) if isinstance(o.get("metadata"), dict) else {}
            found[(str(o.get("kind", "")), str(meta.get("namespace", "")), str(meta.get("name", "")))] = o
    return found


def _summary(files: dict[str, bytes]) -> dict[str, Any] | None:
    data = files.get(SUMMARY)
    try:
        found = json.loads(data) if data is not None else None
    except ValueError:
        return None                     # a hand-edited summary: every workload shows as added
    return found if isinstance(found, dict) else None


def plan(root: Path, only: list[str] | None = None) -> plan_report.Review:
    """What a build would change, as a reviewer reads it: the committed out/ is the state before, a fresh build
    (reading the sealed cache, as a build does) the state after."""
    compiled, fresh, current = _fresh_and_committed(root, only)
    # out/gitops/ is no environment: its changes count as files, and no workload is in it
    envs_before = {env: files for env, files in current.items() if env != GITOPS}
    envs_after = {env: files for env, files in fresh.items() if env != GITOPS}
    before = {env: _summary(files) for env, files in envs_before.items()}
    after = {env: json.loads(compiled.files[env][SUMMARY]) for env in envs_after}
    return plan_report.review(before, after,
                              {env: _objects(f, env, envs_after.get(env, {})) for env, f in envs_before.items()},
                              {env: _objects(f, env, envs_before.get(env, {})) for env, f in envs_after.items()},
                              compiled.warnings,
                              len(differences(fresh, current)))


def validate(root: Path, only: list[str] | None = None) -> Compiled:
    return compile_all(root, only, render=False)


class NotFound(Exception):
    """A name on the command line that matches nothing (not an input error: nothing to locate)."""


def find_workload(root: Path, env: str, workload: str, project: str | None) -> tuple[ResolvedEnvironment, Workload]:
    compiled = compile_all(root, [env], render=False)
    resolved = compiled.resolved[env]
    matches = [w for w in resolved.workloads if w.name == workload and (project is None or w.project == project)]
    if not matches:
        elsewhere = sorted({w.project for w in resolved.workloads if w.name == workload})
        if elsewhere:
            raise NotFound(f"no workload '{workload}' in project {project} of environment {env}: it is in project "
                           f"{', '.join(elsewhere)}")
        raise _not_found("workload", workload, [w.name for w in resolved.workloads if project in (None, w.project)],
                         f" in environment {env}" if project is None else f" in project {project} of environment {env}")
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
    if envs is None and resolved:
        version = newest_kubernetes(resolved)
        for relpath, data in sorted(read_tree(root / "out" / GITOPS).items()):
            if not is_manifest(relpath):
                continue
            shown = f"out/{GITOPS}/{relpath}"
            parsed, found = read_manifest(data.decode(errors="replace"), shown)
            problems.extend(found)
            if parsed is not None:
                problems.extend(verify_file(shown, parsed.text, parsed.objects, version, locations, hint=OUT_HINT))
                objects += len(parsed.objects)
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


# models and templates: the catalog and the gallery an environment sees (report/catalog.py renders them)

KNOWN_SHOWN = 20                                # names a NotFound message lists at most


def _not_found(what: str, name: str, known: Sequence[str], where: str = "") -> NotFound:
    """`unknown <what> '<name>'<where>`, with a close name when there is one and the known names."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    listed = ", ".join(names[:KNOWN_SHOWN]) + (f" and {len(names) - KNOWN_SHOWN} more" if len(names) > KNOWN_SHOWN else "")
    return NotFound(f"unknown {what} '{name}'{where}: {hint}known: {listed or 'none'}")


def _listing_problems(problems: Sequence[Diagnostic]) -> list[Diagnostic]:
    """The errors that make a listing wrong: those of the catalog, the gallery and the environment files, not of a
    project or workload (a broken workload does not change what the catalog holds or what a pool fits)."""
    def relevant(file: str) -> bool:
        parts = file.split("/")
        return not (parts[0] == "environments" and len(parts) > 2 and parts[2] in sources.INPUT_DIRS)
    return [d for d in errors_in(problems) if relevant(d.file)]


def _environment_inputs(root: Path, env: str) -> tuple[InputSet, GalleryDocuments, Environment]:
    """An environment's validated inputs, the shared gallery and the resolved environment; NotFound for an unknown
    environment, BuildFailed when its environment file or a gallery entry it sees has errors."""
    names = sources.environment_names(root)
    if env not in names:
        raise _not_found("environment", env, names)
    reader = Reader(root)
    shared = reader.shared_gallery()
    inputs = reader.environment(env, shared)
    problems = _listing_problems(reader.problems)
    if inputs.environment is None or problems:
        raise BuildFailed(sorted(set(problems or errors_in(reader.problems))))
    environment = resolve_environment(inputs.environment, env)
    problems = errors_in(environment_problems(inputs.environment, environment))
    if problems:
        raise BuildFailed(problems)
    return inputs, shared, environment


def _pool_fit(profile: Profile, pools: Sequence[NodePool], parameters_billions: float | None) -> PoolFit:
    """Per pool, what a build pinning this profile there would say (resolve/profiles.check_profile)."""
    fits: list[str] = []
    misfits: list[PoolMisfit] = []
    for pool in pools:
        rejections = check_profile(profile, [pool_of(pool)], parameters_billions=parameters_billions)
        if rejections:
            misfits.append(PoolMisfit(pool.name, "; ".join(r.reason for r in rejections)))
        else:
            fits.append(pool.name)
    return PoolFit(tuple(fits), tuple(misfits))


def list_models(root: Path, model: str | None = None, env: str | None = None) -> ModelListing:
    """The NIM catalog (one model, or every one): versions and profiles; with an environment, its catalog (the
    shared one with its overrides), its image mirror, and for each profile the node pools it fits and why not the
    others. NotFound for an unknown model or environment; BuildFailed when the catalog (or the environment) has
    errors."""
    environment: Environment | None = None
    if env is None:
        reader = Reader(root)
        docs = reader.shared_gallery().get("NimModel", {})
        problems = errors_in(reader.problems)
        if problems:
            raise BuildFailed(sorted(set(problems)))
    else:
        inputs, _, environment = _environment_inputs(root, env)
        docs = inputs.gallery.get("NimModel", {})
    catalog = {name: catalog_model(doc) for name, doc in docs.items()}
    if model is not None and model not in catalog:
        raise _not_found("model", model, list(catalog), f" in the catalog{'' if env is None else ' of environment ' + env}")
    pools = environment.node_pools if environment is not None else ()
    listed: list[ListedModel] = []
    for name in sorted(catalog) if model is None else [model]:
        entry = catalog[name]
        versions = []
        for version, profiles in entry.versions:
            image = entry.image(version)
            if environment is not None:
                image = mirrored(image, environment.images)
            versions.append(ListedVersion(version, image, tuple(
                ListedProfile(p, _pool_fit(p, pools, entry.parameters_billions) if environment is not None else None)
                for p in profiles)))
        listed.append(ListedModel(name, entry.repository, entry.parameters_billions, entry.source.file, tuple(versions)))
    return ModelListing(tuple(listed), model, env, pools)


def _origin(name: str, doc: Document, shared: dict[str, Document]) -> tuple[Origin, str | None]:
    if name not in shared:
        return Origin.ENVIRONMENT, None
    if shared[name] is doc:
        return Origin.GALLERY, None
    return Origin.OVERRIDE, shared[name].file


def _claim_source(spec: dict[str, Any]) -> ClaimSource:
    if "existingClaim" in spec:
        return ExistingClaim(spec["existingClaim"])
    pvc = spec["pvc"]
    return NewClaim(str(pvc["size"]), pvc.get("storageClass"), pvc.get("accessMode"))


def list_templates(root: Path, env: str) -> TemplateListing:
    """The compute templates and data sources an environment sees: the shared gallery's entries, those its files
    override (merged over the shared entry, as a build merges them) and those only it declares. NotFound for an
    unknown environment; BuildFailed when the gallery or the environment has errors."""
    inputs, shared, _ = _environment_inputs(root, env)

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    compute_docs = inputs.gallery.get("ComputeTemplate", {})
    compute: list[ListedCompute] = []
    for name in sorted(compute_docs):
        doc = compute_docs[name]
        spec = doc.data["spec"]
        origin, over = _origin(name, doc, shared.get("ComputeTemplate", {}))
        fraction = spec.get("gpuFraction")
        compute.append(ListedCompute(name, origin, doc.file, over, spec.get("gpus"), spec.get("gpuProduct"),
                                     text(spec.get("cpu")), text(spec.get("memory")), text(spec.get("sharedMemory")),
                                     spec.get("migProfile"), None if fraction is None else float(fraction),
                                     text(spec.get("gpuMemory"))))
    datasource_docs = inputs.gallery.get("DataSource", {})
    datasources: list[ListedDataSource] = []
    for name in sorted(datasource_docs):
        doc = datasource_docs[name]
        origin, over = _origin(name, doc, shared.get("DataSource", {}))
        datasources.append(ListedDataSource(name, origin, doc.file, over, _claim_source(doc.data["spec"])))
    return TemplateListing(env, tuple(compute), tuple(datasources))


def input_schema(kind: str | None) -> str:
    """The JSON Schema of an input kind, as validation reads it; without a kind, the kinds and their files."""
    if kind is None:
        return "".join(f"{name}: schemas/{file}\n" for name, file in sorted(SCHEMA_FILES.items()))
    if kind not in SCHEMA_FILES:
        raise _not_found("kind", kind, list(SCHEMA_FILES))
    return (SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8")


# init: a new repository that builds as it stands

VERSION_PLACEHOLDER = "NIMGEN_VERSION"


def init(target: Path) -> list[str]:
    """Write a starter repository into `target` (absent or empty): one environment, project and workload, the NIM
    catalog, a Makefile, README, .gitignore and the CI workflow. Returns the files written. NotFound when `target`
    holds anything already (nothing is overwritten)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise NotFound(f"{target} is not an empty folder: nimgen init writes a new repository and overwrites nothing")
    written: list[str] = []
    version = _installed_version()
    for source in sorted(p for p in resources.STARTER.rglob("*") if p.is_file()):
        relpath = source.relative_to(resources.STARTER)
        text = source.read_text(encoding="utf-8").replace(VERSION_PLACEHOLDER, version)
        _write_new(target / relpath, text)
        written.append(relpath.as_posix())
    for source in sorted(resources.CATALOG.glob("*.yaml")):
        relpath = Path("templates") / "models" / source.name
        _write_new(target / relpath, source.read_text(encoding="utf-8"))
        written.append(relpath.as_posix())
    return written


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _installed_version() -> str:
    from importlib import metadata
    try:
        return metadata.version("nimgen")
    except metadata.PackageNotFoundError:
        return "0.0.0"
