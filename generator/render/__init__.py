"""Render: construct what the cache cannot answer, emit deterministic YAML, verify it, lay out out/<env>/
(manifests, kustomization, README). Only verified text is cached or handed back; output/ commits it."""

from __future__ import annotations

from typing import Any

import hashlib
from dataclasses import dataclass
from importlib import metadata as pkg_metadata
from pathlib import Path

from ..diagnostics import Diagnostic
from ..manifests import header, read_manifest
from ..nodejs import require_node
from ..model import ArgoApplications, FluxSync, MeshedPrometheus, Ngc, OutputFile, Preparation, ResolvedEnvironment
from ..report.readme import readme
from ..report.summary import summary_text
from ..verify import cluster_rules
from ..verify.kubeconform import kubeconform_texts
from ..verify.schemas import verify_file
from . import emit, layout
from .cache import BuildCache, model_key

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
    value: OutputFile                    # what construct renders the file from, on a cache miss
    header: str


def render_environment(resolved: ResolvedEnvironment, cache: BuildCache | None) -> Rendered:
    env = resolved.environment
    shown_root = f"out/{env.name}"
    wanted: dict[str, _Wanted] = {}
    for project in resolved.projects:
        wanted[layout.project_file(project)] = _Wanted(model_key(project), project, header(*project.sources))
    for workload in resolved.workloads:
        wanted[layout.workload_file(workload)] = _Wanted(model_key(workload), workload, header(*workload.sources))
        if isinstance(workload.store, Ngc) and workload.store.prepared:
            preparation = Preparation(workload)
            wanted[layout.preparation_file(workload)] = _Wanted(model_key(preparation), preparation,
                                                                header(*workload.sources))
    queues = resolved.queues
    if queues.queues:
        wanted[layout.QUEUES_FILE] = _Wanted(
            model_key(queues), queues, header(*sorted({s for p in resolved.projects if p.queue for s in p.sources}
                                                      | {d.source for d in resolved.departments if d.queue})))

    files, missing, checked, problems = _construct(wanted, cache, env.kubernetes_version, shown_root)
    if missing:
        problems.extend(cluster_rules.check(with_shared_files(checked, files), facts_of(resolved), shown_root,
                                            only=set(missing)))
    _cache_sound(cache, wanted, files, missing, problems)
    files.update(layout.kustomizations(files))
    files[layout.SUMMARY] = summary_text(resolved)
    files[layout.README] = readme(resolved, sorted(files))
    return Rendered(dict(sorted(files.items())), problems)


def _construct(wanted: dict[str, _Wanted], cache: BuildCache | None, kubernetes_version: str, shown_root: str
               ) -> tuple[dict[str, str], list[str], dict[str, tuple[str, list[dict[str, Any]]]], list[Diagnostic]]:
    """Each wanted file from the cache, or constructed, emitted and verified: the texts, the files constructed
    (with their objects) and the problems verify found."""
    files: dict[str, str] = {}
    missing: list[str] = []
    for relpath, want in wanted.items():
        text = cache.get(want.key) if cache else None
        if text is None:
            missing.append(relpath)
        else:
            files[relpath] = text
    problems: list[Diagnostic] = []
    checked: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    if missing:
        require_node()
        from .. import construct   # starts Node.js: only on a cache miss

        synthesized = construct.synthesize({r: wanted[r].value for r in missing})
        for relpath in missing:
            objects = emit.sort_objects(synthesized[relpath])
            text = emit.render_manifests(objects, wanted[relpath].header)
            problems.extend(verify_file(f"{shown_root}/{relpath}", text, objects, kubernetes_version))
            files[relpath] = text
            checked[relpath] = (text, objects)
        problems.extend(kubeconform_texts({r: files[r] for r in missing}, kubernetes_version, shown_root))
    return files, missing, checked, problems


def _cache_sound(cache: BuildCache | None, wanted: dict[str, _Wanted], files: dict[str, str], missing: list[str],
                 problems: list[Diagnostic]) -> None:
    """Only verified text is cached."""
    if cache and not problems:
        for relpath in missing:
            cache.put(wanted[relpath].key, files[relpath])


def render_gitops(argo: ArgoApplications | None, flux: tuple[FluxSync, ...], kubernetes_version: str,
                  cache: BuildCache | None) -> Rendered:
    """out/gitops/: the ApplicationSet (argocd/) and each environment's Flux objects (flux/<env>/), each folder
    with its kustomization."""
    wanted: dict[str, _Wanted] = {}
    if argo is not None:
        sources = sorted({f"environments/{env}/environment.yaml" for env, _ in argo.environments})
        wanted[layout.ARGOCD_FILE] = _Wanted(model_key(argo), argo, header(*sources))
    for sync in flux:
        wanted[layout.flux_file(sync.environment)] = _Wanted(model_key(sync), sync,
                                                             header(f"environments/{sync.environment}/environment.yaml"))
    files, missing, _, problems = _construct(wanted, cache, kubernetes_version, f"out/{layout.GITOPS}")
    _cache_sound(cache, wanted, files, missing, problems)
    files.update(layout.gitops_kustomizations(files))
    return Rendered(dict(sorted(files.items())), problems)


def facts_of(resolved: ResolvedEnvironment) -> cluster_rules.EnvironmentFacts:
    env = resolved.environment
    return cluster_rules.EnvironmentFacts(env.name, env.gateway.namespace, env.kserve.version, env.gateway.pod_labels,
                                          env.monitoring_namespace, isinstance(env.scraper, MeshedPrometheus))


def with_shared_files(checked: dict[str, tuple[str, list[dict[str, Any]]]], files: dict[str, str]) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """The files rendered in this run, plus the project and queue files (namespaces, queues) the rules read
    together with them; those few are parsed when they came from the cache. Workload files from the cache
    were checked when they were rendered: their model, and so the namespace facts they depend on, is unchanged."""
    found = dict(checked)
    for relpath, text in files.items():
        if relpath not in found and layout.is_shared(relpath):
            manifest, _ = read_manifest(text, relpath)   # verified text from the sealed cache: it parses
            found[relpath] = (text, manifest.objects if manifest else [])
    return found
