"""Where each rendered thing lands in out/<env>/, and the kustomizations that list it.

out/<env>/ has two parts, applied in order: prepare/ (namespaces and the project objects, the KAI queues, and the
warm-ups that must finish before a server starts) and serve/ (the workloads). Argo CD syncs out/<env>/ whole and
orders the two by sync waves; Flux and `kubectl apply -k`, which read no waves, apply prepare/ and wait for it
before serve/ (out/<env>/README.md says how).
"""

from __future__ import annotations

from ..model import Project, Workload
from ..manifests import header
from . import emit

PREPARE, SERVE = "prepare", "serve"
PROJECT_FILE = "_project.yaml"   # '_' cannot start a workload name, so it never collides with one
QUEUES_FILE = f"{PREPARE}/cluster/queues.yaml"
KUSTOMIZATION = "kustomization.yaml"
README = "README.md"
SUMMARY = "summary.json"           # what `nimgen plan` compares (report/summary.py)


def project_file(project: Project) -> str:
    return f"{PREPARE}/{project.name}/{PROJECT_FILE}"


def workload_file(workload: Workload) -> str:
    return f"{SERVE}/{workload.project}/{workload.name}.yaml"


def preparation_file(workload: Workload) -> str:
    return f"{PREPARE}/{workload.project}/{workload.name}.yaml"


def is_shared(relpath: str) -> bool:
    """A project or queue file: objects the rules read together with any workload's."""
    return relpath.endswith("/" + PROJECT_FILE) or relpath == QUEUES_FILE


def _kustomization(resources: list[str]) -> str:
    data = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    return header() + emit.dump(data)


def kustomizations(files: dict[str, str]) -> dict[str, str]:
    """out/<env>/kustomization.yaml (both parts) and one in each part listing its files (kustomize loads no file
    outside a kustomization's folder, so each part's files live in it)."""
    found = {KUSTOMIZATION: _kustomization([PREPARE, SERVE])}
    for part in (PREPARE, SERVE):
        found[f"{part}/{KUSTOMIZATION}"] = _kustomization(
            sorted(p.removeprefix(f"{part}/") for p in files if p.startswith(f"{part}/") and p.endswith(".yaml")
                   and not p.endswith("/" + KUSTOMIZATION)))
    return found


# out/gitops/: beside the environments, what syncs them (render_gitops)
GITOPS = "gitops"
ARGOCD_FILE = "argocd/applicationset.yaml"


def flux_file(environment: str) -> str:
    return f"flux/{environment}/sync.yaml"


def gitops_kustomizations(files: dict[str, str]) -> dict[str, str]:
    """A kustomization in out/gitops/argocd/ and in each out/gitops/flux/<env>/, listing its file: what Argo CD
    or a cluster's Flux bootstrap points at."""
    folders = sorted({p.rsplit("/", 1)[0] for p in files if p.endswith(".yaml")})
    return {f"{folder}/{KUSTOMIZATION}": _kustomization(sorted(p.rsplit("/", 1)[1] for p in files
                                                               if p.rsplit("/", 1)[0] == folder))
            for folder in folders}
