"""The pipeline: load -> validate -> resolve -> construct -> emit -> verify, for every environment.

This module only sequences the stages and decides what is cached; each stage lives in its own module.
A build either produces every environment's verified files or raises BuildFailed with every problem found.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Callable

from jinja2 import Environment as Jinja, FileSystemLoader, StrictUndefined

from . import emit, sources
from .cache import BuildCache
from .catalog import catalog_model
from .diagnostics import BuildFailed, Diagnostic, errors_in
from .layering import merge
from .load import Document, load_file
from .model import ResolvedEnvironment
from .resolve import Gallery, resolve, scan_for_secrets
from .validate import validate_document
from .verify import kubeconform, verify_file

PROJECT_FILE = "_project.yaml"   # '_' cannot start a workload name, so it never collides with one
QUEUES_FILE = "cluster/queues.yaml"


@dataclass
class Inputs:
    """Validated documents of one environment, ready for resolve."""

    environment: Document | None = None
    projects: list[Document] = field(default_factory=list)
    workloads: list[Document] = field(default_factory=list)
    gallery: Gallery = field(default_factory=Gallery)


class Loader:
    """Loads and validates files, each file parsed once per run however many environments share it."""

    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Diagnostic] = []
        self._parsed: dict[Path, Document | None] = {}
        self.invalid: set[tuple[str, str]] = set()   # (kind, name) of documents that failed validation

    def file(self, path: Path) -> Document | None:
        if path not in self._parsed:
            doc, problems = load_file(path, self.root)
            self.problems.extend(problems)
            if doc is not None:
                self.problems.extend(scan_for_secrets(doc))
            self._parsed[path] = doc
        return self._parsed[path]

    def layer(self, layer: sources.Layer) -> Document | None:
        docs = [self.file(p) for p in layer.files]
        if any(d is None for d in docs):
            return None
        return docs[0] if len(docs) == 1 else merge(docs[0], docs[1])

    def validated(self, doc: Document | None, expected_kind: str | None) -> Document | None:
        if doc is None:
            return None
        problems = validate_document(doc, expected_kind)
        self.problems.extend(problems)
        if errors_in(problems):
            # remember the name, so references to it do not also report 'unknown ...'
            meta = doc.data.get("metadata")
            name = meta.get("name") if isinstance(meta, dict) else None
            if isinstance(name, str):
                self.invalid.add((expected_kind or str(doc.data.get("kind")), name))
            return None
        return doc

    def shared_gallery(self) -> dict[str, dict[str, Document]]:
        entries: dict[str, dict[str, Document]] = {kind: {} for kind in sources.GALLERY_DIRS.values()}
        for path in sources.gallery_files(self.root):
            kind = sources.GALLERY_DIRS[path.relative_to(self.root / "templates").parts[0]]
            doc = self.validated(self.file(path), kind)
            if doc is not None:
                self._add_entry(entries[kind], doc)
        return entries

    def _add_entry(self, table: dict[str, Document], doc: Document) -> None:
        name = doc.data["metadata"]["name"]
        if name in table:
            self.problems.append(doc.diagnostic(("metadata", "name"), f"duplicate {doc.data['kind']} '{name}'",
                                                f"already defined in {table[name].file}"))
        table[name] = doc

    def environment(self, env: str, shared: dict[str, dict[str, Document]]) -> Inputs:
        inputs = Inputs()
        gallery = {kind: dict(entries) for kind, entries in shared.items()}
        for layer in sources.environment_layers(self.root, env):
            doc = self.layer(layer)
            if doc is None:
                continue
            if doc.data.get("enabled") is False:
                continue  # an environment drops an input inherited from base
            doc = self.validated(doc, sources.expected_kind(layer.relpath))
            if doc is None:
                continue
            kind = doc.data["kind"]
            if kind == "Environment":
                inputs.environment = doc
            elif kind == "Project":
                inputs.projects.append(doc)
            elif kind == "InferenceWorkload":
                inputs.workloads.append(doc)
            else:  # a gallery override: merged over the shared entry of the same name
                name = doc.data["metadata"]["name"]
                gallery[kind][name] = merge(gallery[kind][name], doc) if name in gallery[kind] else doc
        if inputs.environment is None and not any(p.file.startswith(f"environments/{env}/") for p in self.problems):
            self.problems.append(Diagnostic(f"environments/{env}/{sources.ENVIRONMENT_FILE}", 1, 1, "$",
                                            f"environment {env} has no environment.yaml",
                                            "every folder under environments/ (except base) is an environment"))
        models = {}
        for name, doc in gallery["NimModel"].items():
            models[name] = catalog_model(doc)
        inputs.gallery = Gallery(gallery["ComputeTemplate"], gallery["DataSource"], models, self.invalid)
        return inputs


# --------------------------------------------------------------------------------------------- rendering


def _fingerprint(root: Path) -> str:
    """What else decides the output besides the resolved model: this code, its CRD schemas, its libraries."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")) + sorted((package.parent / "schemas" / "k8s-crds").rglob("*.json")):
        digest.update(path.as_posix().encode() + b"\0" + path.read_bytes())
    for dist in ("cdk8s", "kubernetes-validate", "PyYAML"):
        digest.update(f"{dist}={pkg_metadata.version(dist)}".encode())
    return digest.hexdigest()


@dataclass
class Rendered:
    """One environment's output files (relative path -> text) and the problems verify found."""

    files: dict[str, str]
    problems: list[Diagnostic]


def render_environment(resolved: ResolvedEnvironment, cache: BuildCache | None) -> Rendered:
    from .construct.project import KaiQueues, ProjectResources
    from .construct.workload import NimWorkload

    env = resolved.environment
    shown_root = f"out/{env.name}"
    wanted: dict[str, tuple[str, Callable, str]] = {}   # relpath -> (cache key, builder, header)
    for project in resolved.projects:
        wanted[f"{project.name}/{PROJECT_FILE}"] = (
            repr(("project", env, project)),
            lambda chart, p=project: ProjectResources(chart, env, p),
            emit.header(*project.sources))
    for workload in resolved.workloads:
        wanted[f"{workload.project.name}/{workload.name}.yaml"] = (
            repr(("workload", env, workload)),
            lambda chart, w=workload: NimWorkload(chart, env, w),
            emit.header(*workload.sources))
    if env.scheduler == "kai" and resolved.projects:
        wanted[QUEUES_FILE] = (repr(("queues", env, resolved.projects)),
                               lambda chart: KaiQueues(chart, env, resolved.projects),
                               emit.header(*sorted({s for p in resolved.projects for s in p.sources})))

    files: dict[str, str] = {}
    missing: dict[str, Callable] = {}
    for relpath, (key, builder, _) in wanted.items():
        text = cache.get(key) if cache else None
        if text is None:
            missing[relpath] = builder
        else:
            files[relpath] = text
    problems: list[Diagnostic] = []
    if missing:
        from .construct import synthesize

        for relpath, objects in synthesize(missing).items():
            text = emit.render_manifests(objects, wanted[relpath][2])
            found = verify_file(f"{shown_root}/{relpath}", text, emit.sort_objects(objects), env.kubernetes_version)
            problems.extend(found)
            files[relpath] = text
        problems.extend(run_kubeconform({r: files[r] for r in missing}, env.kubernetes_version, shown_root))
        if cache and not problems:
            for relpath in missing:
                cache.put(wanted[relpath][0], files[relpath])
    files["kustomization.yaml"] = kustomization(files)
    files["README.md"] = readme(resolved, files)
    return Rendered(dict(sorted(files.items())), problems)


def run_kubeconform(files: dict[str, str], kubernetes_version: str, shown_root: str) -> list[Diagnostic]:
    """kubeconform, when installed, over the files verified in this run (cached files were verified before)."""
    if not files or shutil.which("kubeconform") is None:
        return []
    with tempfile.TemporaryDirectory(prefix="nimgen-kubeconform-") as tmp:
        for relpath, text in files.items():
            (Path(tmp) / relpath).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / relpath).write_text(text, encoding="utf-8")
        return kubeconform(Path(tmp), kubernetes_version, shown_root)


def kustomization(files: dict[str, str]) -> str:
    resources = sorted(p for p in files if p.endswith(".yaml") and p != "kustomization.yaml")
    data = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    return emit.header() + emit.dump(data)


TEXT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "text"


def readme(resolved: ResolvedEnvironment, files: dict[str, str]) -> str:
    jinja = Jinja(loader=FileSystemLoader(TEXT_TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                  trim_blocks=True, lstrip_blocks=True, autoescape=False)
    text = jinja.get_template("out-readme.md.j2").render(env=resolved.environment, projects=resolved.projects,
                                                          workloads=resolved.workloads, files=sorted(files))
    return text.rstrip("\n") + "\n"


# --------------------------------------------------------------------------------------------- whole builds


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
    loader = Loader(root)
    shared = loader.shared_gallery()
    problems: list[Diagnostic] = []
    resolved: dict[str, ResolvedEnvironment] = {}
    for name in selected:
        inputs = loader.environment(name, shared)
        if inputs.environment is None:
            continue
        result, found = resolve(name, inputs.environment, inputs.projects, inputs.workloads, inputs.gallery)
        problems.extend(found)
        if result is not None:
            resolved[name] = result
    # a base file is shared by every environment: report each of its problems once
    problems = sorted(set(loader.problems + problems))
    if errors_in(problems):
        raise BuildFailed(problems)
    files: dict[str, dict[str, str]] = {}
    if render:
        cache = BuildCache(root / ".nimgen" / "cache", _fingerprint(root)) if use_cache else None
        for name in selected:
            rendered = render_environment(resolved[name], cache)
            problems.extend(rendered.problems)
            files[name] = rendered.files
        if errors_in(problems):
            raise BuildFailed(problems)
    return Compiled(files, resolved, problems)
