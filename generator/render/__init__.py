"""Stages 5-6, render: construct what the cache cannot answer, emit deterministic YAML, verify it, lay out
out/<env>/ (manifests, kustomization, README). Only verified text is cached or handed back."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic
from ..model import ResolvedEnvironment
from ..report.readme import readme
from . import emit, layout
from .cache import BuildCache, model_key
from .verify import kubeconform, verify_file

PACKAGE = Path(__file__).resolve().parent.parent


def fingerprint() -> str:
    """What else decides the output besides the model: this code, its CRD schemas, its libraries."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")) + sorted((PACKAGE.parent / "schemas" / "k8s-crds").rglob("*.json")):
        digest.update(path.relative_to(PACKAGE.parent).as_posix().encode() + b"\0" + path.read_bytes())
    for dist in ("cdk8s", "kubernetes-validate", "PyYAML"):
        digest.update(f"{dist}={pkg_metadata.version(dist)}".encode())
    return digest.hexdigest()


@dataclass
class Rendered:
    """One environment's output files (relative path -> text) and the problems verify found."""

    files: dict[str, str]
    problems: list[Diagnostic]


@dataclass(frozen=True)
class _Wanted:
    key: str
    charts: Any                          # a thunk: the construct module is imported only on a cache miss
    header: str


def render_environment(resolved: ResolvedEnvironment, cache: BuildCache | None) -> Rendered:
    env = resolved.environment
    shown_root = f"out/{env.name}"
    wanted: dict[str, _Wanted] = {}
    for project in resolved.projects:
        wanted[layout.project_file(project)] = _Wanted(
            model_key("project", project), lambda c, p=project: c.project_charts(p), emit.header(*project.sources))
    for workload in resolved.workloads:
        wanted[layout.workload_file(workload)] = _Wanted(
            model_key("workload", workload), lambda c, w=workload: c.workload_charts(w), emit.header(*workload.sources))
    if resolved.queues:
        wanted[layout.QUEUES_FILE] = _Wanted(
            model_key("queues", resolved.queues), lambda c: c.queue_charts(resolved.queues),
            emit.header(*sorted({s for p in resolved.projects if p.queue for s in p.sources})))

    files: dict[str, str] = {}
    missing: list[str] = []
    for relpath, want in wanted.items():
        text = cache.get(want.key) if cache else None
        if text is None:
            missing.append(relpath)
        else:
            files[relpath] = text
    problems: list[Diagnostic] = []
    if missing:
        from .. import construct

        synthesized = construct.synthesize({r: wanted[r].charts(construct) for r in missing})
        for relpath in missing:
            objects = emit.sort_objects(synthesized[relpath])
            text = emit.render_manifests(objects, wanted[relpath].header)
            problems.extend(verify_file(f"{shown_root}/{relpath}", text, objects, env.kubernetes_version))
            files[relpath] = text
        problems.extend(run_kubeconform({r: files[r] for r in missing}, env.kubernetes_version, shown_root))
        if cache and not problems:
            for relpath in missing:
                cache.put(wanted[relpath].key, files[relpath])
    files[layout.KUSTOMIZATION] = layout.kustomization(files)
    files[layout.README] = readme(resolved, sorted(files))
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
