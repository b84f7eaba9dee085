"""Where each rendered thing lands in out/<env>/, and the kustomization that lists it."""

from __future__ import annotations

from ..model import Project, Workload
from ..manifests import header
from . import emit

PROJECT_FILE = "_project.yaml"   # '_' cannot start a workload name, so it never collides with one
QUEUES_FILE = "cluster/queues.yaml"
KUSTOMIZATION = "kustomization.yaml"
README = "README.md"


def project_file(project: Project) -> str:
    return f"{project.name}/{PROJECT_FILE}"


def workload_file(workload: Workload) -> str:
    return f"{workload.project}/{workload.name}.yaml"


def kustomization(files: dict[str, str]) -> str:
    resources = sorted(p for p in files if p.endswith(".yaml") and p != KUSTOMIZATION)
    data = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources}
    return header() + emit.dump(data)
