"""Render: construct what the cache cannot answer, emit deterministic YAML, verify it, lay out out/<env>/
(manifests, kustomization, README). Only verified text is cached or handed back; output/ commits it.

Three steps, so the costly middle one can be spread over processes: plan each environment (which files it has, which
the cache answers), construct every missing file of every environment (render/workers.py: in this process, or
over the cores when there are enough), then finish each environment (the cluster rules over what was constructed,
the cache, kustomizations, summary, README)."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import hashlib
from dataclasses import dataclass
from importlib import metadata as pkg_metadata
from pathlib import Path

from ..diagnostics import Diagnostic
from ..manifests import header, read_manifest
from ..model import ArgoApplications, FluxSync, MeshedPrometheus, Ngc, OutputFile, Preparation, ResolvedEnvironment
from ..report.readme import readme
from ..report.summary import summary_text
from ..verify import cluster_rules
from ..verify.kubeconform import kubeconform_texts
from . import layout
from .cache import BuildCache, model_key
from .workers import Constructed, Job, Workers

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


@dataclass
class _Planned:
    """A folder of out/ before construct: the files the cache answered, and a job for each other file."""

    shown_root: str
    keys: dict[str, str]                 # relpath -> cache key (with a cache)
    files: dict[str, str]                # relpath -> text, from the cache
    jobs: list[Job]                      # the files to construct, emit and verify


def _plan(wanted: dict[str, tuple[OutputFile, str]], cache: BuildCache | None, kubernetes_version: str,
          shown_root: str) -> _Planned:
    """`wanted`: relpath -> (the model value the file is rendered from, its header)."""
    planned = _Planned(shown_root, {}, {}, [])
    for relpath, (value, head) in wanted.items():
        text = None
        if cache:
            key = planned.keys[relpath] = model_key(value)
            text = cache.get(key)
        if text is None:
            planned.jobs.append(Job(relpath, value, head, kubernetes_version, f"{shown_root}/{relpath}"))
        else:
            planned.files[relpath] = text
    return planned


def _environment_files(resolved: ResolvedEnvironment) -> dict[str, tuple[OutputFile, str]]:
    wanted: dict[str, tuple[OutputFile, str]] = {}
    for project in resolved.projects:
        wanted[layout.project_file(project)] = (project, header(*project.sources))
    for workload in resolved.workloads:
        wanted[layout.workload_file(workload)] = (workload, header(*workload.sources))
        if isinstance(workload.store, Ngc) and workload.store.prepared:
            wanted[layout.preparation_file(workload)] = (Preparation(workload), header(*workload.sources))
    queues = resolved.queues
    if queues.queues:
        wanted[layout.QUEUES_FILE] = (
            queues, header(*sorted({s for p in resolved.projects if p.queue for s in p.sources}
                                   | {d.source for d in resolved.departments if d.queue})))
    return wanted


def render_environments(envs: Sequence[ResolvedEnvironment], cache: BuildCache | None, helpers: Workers,
                        progress: Callable[[str], None] | None = None) -> list[tuple[str, Rendered]]:
    """out/<env>/ of each environment: every file the cache cannot answer is constructed in one pass over all of
    them (spread over the cores when there are enough), then each environment is finished on its own."""
    planned = [_plan(_environment_files(r), cache, r.environment.kubernetes_version, f"out/{r.environment.name}")
               for r in envs]
    constructed = iter(helpers.construct([job for p in planned for job in p.jobs], progress))
    found = []
    for resolved, plan in zip(envs, planned):
        built = {job.relpath: next(constructed) for job in plan.jobs}
        files, checked, problems = _gathered(plan, built, cache)
        if checked:
            problems.extend(cluster_rules.check(with_shared_files(checked, files), facts_of(resolved),
                                                plan.shown_root, only=set(checked)))
        _cache_sound(cache, plan, files, checked, problems)
        files.update(layout.kustomizations(files))
        files[layout.SUMMARY] = summary_text(resolved)
        files[layout.README] = readme(resolved, sorted(files))
        found.append((resolved.environment.name, Rendered(dict(sorted(files.items())), problems)))
    return found


def _gathered(plan: _Planned, built: dict[str, Constructed], cache: BuildCache | None
              ) -> tuple[dict[str, str], dict[str, tuple[str, list[dict[str, Any]]]], list[Diagnostic]]:
    """The folder's texts (from the cache or constructed), the constructed files with their objects, and the
    problems verify found in them (kubeconform too, when it is installed)."""
    files = dict(plan.files)
    checked: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    problems: list[Diagnostic] = []
    for relpath, result in built.items():
        files[relpath] = result.text
        checked[relpath] = (result.text, result.objects)
        problems.extend(result.problems)
    if built:
        version = plan.jobs[0].kubernetes_version
        problems.extend(kubeconform_texts({r: files[r] for r in built}, version, plan.shown_root))
    return files, checked, problems


def _cache_sound(cache: BuildCache | None, plan: _Planned, files: dict[str, str],
                 checked: dict[str, tuple[str, list[dict[str, Any]]]], problems: list[Diagnostic]) -> None:
    """Only verified text is cached."""
    if cache and not problems:
        for relpath in checked:
            cache.put(plan.keys[relpath], files[relpath])


def render_gitops(argo: ArgoApplications | None, flux: tuple[FluxSync, ...], kubernetes_version: str,
                  cache: BuildCache | None, helpers: Workers) -> Rendered:
    """out/gitops/: the ApplicationSet (argocd/) and each environment's Flux objects (flux/<env>/), each folder
    with its kustomization."""
    wanted: dict[str, tuple[OutputFile, str]] = {}
    if argo is not None:
        sources = sorted({f"environments/{env}/environment.yaml" for env, _ in argo.environments})
        wanted[layout.ARGOCD_FILE] = (argo, header(*sources))
    for sync in flux:
        wanted[layout.flux_file(sync.environment)] = (sync, header(f"environments/{sync.environment}/environment.yaml"))
    plan = _plan(wanted, cache, kubernetes_version, f"out/{layout.GITOPS}")
    built = dict(zip((job.relpath for job in plan.jobs), helpers.construct(plan.jobs)))
    files, checked, problems = _gathered(plan, built, cache)
    _cache_sound(cache, plan, files, checked, problems)
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
