"""Projects: namespace, guard rails, the one GPU budget, the KAI queue, and the checks that read the budget."""

from __future__ import annotations

from ..diagnostics import WARNING, Diagnostic
from ..inputs.load import Document
from ..model import (DefaultDenyIngress, Environment, KaiScheduler, GpuBudget, LimitRange, Meta, NamespaceObject, Project, Queue,
                     QueueResource, ResourceQuota, Workload, labels_of)
from ..quantities import canonical, megabytes, millicores
from . import mesh, naming
from .context import sources_of
from .mesh import NamespaceTraits

UNLIMITED = -1      # KAI's "no limit", also accepted in overQuota.gpuLimit
NO_GUARANTEE = 0    # a KAI queue quota that guarantees nothing (over-quota use still follows the weight)
# Containers that declare nothing (sidecars, debug pods) get these; NIM containers always declare their own.
DEFAULT_REQUEST = (("cpu", "100m"), ("memory", "128Mi"))
DEFAULT_LIMIT = (("cpu", "1"), ("memory", "512Mi"))


def gpu_budget(doc: Document) -> tuple[GpuBudget, list[Diagnostic]]:
    """quota.gpus is guaranteed; overQuota.gpuLimit (default: the quota, -1: unlimited) is the most it may hold."""
    spec = doc.data["spec"]
    quota = spec["quota"]["gpus"]
    limit = spec.get("overQuota", {}).get("gpuLimit", quota)
    if limit == UNLIMITED:
        return GpuBudget(quota, None), []
    if limit < quota:
        file, line, _ = doc.where(("spec", "quota", "gpus"))
        return GpuBudget(quota, limit), [doc.diagnostic(
            ("spec", "overQuota", "gpuLimit"), f"gpuLimit {limit} is below the project's GPU quota of {quota}",
            f"a KAI queue's limit must be at least its quota (quota.gpus is set at {file}:{line}): "
            "raise overQuota.gpuLimit, or lower quota.gpus")]
    return GpuBudget(quota, limit), []


# Pod Security Admission (kubernetes.io/docs/concepts/security/pod-security-standards): every pod nimgen writes
# meets "restricted". Two injected containers do not: KServe's storage initializer sets no securityContext
# (kserve v0.20 config/storagecontainers/default.yaml; kserve#5373), and Istio's istio-init needs NET_ADMIN
# and NET_RAW unless Istio runs its CNI agent. A namespace holding them enforces the strictest level they pass
# and still warns and audits against restricted.
PSA_LABEL = "pod-security.kubernetes.io"


def pod_security_level(env: Environment, traits: NamespaceTraits) -> str:
    if mesh.privileged_init(env, traits.meshed):
        return "privileged"
    if traits.storage_initializer:
        return "baseline"
    return "restricted"


def namespace_labels(env: Environment, traits: NamespaceTraits) -> dict[str, str]:
    version = f"v{env.kubernetes_version}"
    found = {f"{PSA_LABEL}/enforce": pod_security_level(env, traits), f"{PSA_LABEL}/enforce-version": version,
             f"{PSA_LABEL}/warn": "restricted", f"{PSA_LABEL}/warn-version": version,
             f"{PSA_LABEL}/audit": "restricted", f"{PSA_LABEL}/audit-version": version}
    found.update(mesh.namespace_labels(env, traits))
    return found


def resolve_project(doc: Document, env: Environment, traits: NamespaceTraits) -> tuple[Project, list[Diagnostic]]:
    spec = doc.data["spec"]
    quota = spec["quota"]
    name = doc.data["metadata"]["name"]
    namespace = spec.get("namespace", name)
    budget, problems = gpu_budget(doc)
    weight = spec.get("overQuota", {}).get("weight", 1)
    cpu = canonical(quota["cpu"]) if "cpu" in quota else None
    memory = canonical(quota["memory"]) if "memory" in quota else None
    workloads = quota.get("workloads")
    charge_back = naming.charge_back_labels(env.labels, spec.get("labels", {}))
    labels = naming.project_labels(charge_back, name)
    hard = {"requests.cpu": cpu, "requests.memory": memory,
            "requests.nvidia.com/gpu": str(budget.limit) if budget.limit is not None else None,
            "count/inferenceservices.serving.kserve.io": str(workloads) if workloads is not None else None}
    queue = None
    if isinstance(env.scheduler, KaiScheduler):
        queue = Queue(
            Meta(name, labels), display_name=name,
            gpu=QueueResource(budget.quota, budget.limit if budget.limit is not None else UNLIMITED, weight),
            # no quota is no guarantee (0): KAI reads -1 as an unlimited one, the whole cluster's amount deserved
            # (kai-scheduler docs, queues: "-1 Unlimited quota"); -1 is right for the limit only
            cpu=QueueResource(millicores(cpu) if cpu else NO_GUARANTEE, UNLIMITED, weight),
            memory=QueueResource(megabytes(memory) if memory else NO_GUARANTEE, UNLIMITED, weight))
    project = Project(
        name=name, namespace=namespace, sources=sources_of(doc), labels=labels, charge_back=charge_back,
        budget=budget, over_quota_weight=weight, cpu=cpu, memory=memory, workloads=workloads,
        namespace_object=NamespaceObject(Meta(namespace, labels_of(namespace_labels(env, traits)))),
        quota=ResourceQuota(Meta(naming.resource_quota(name)), labels_of({k: v for k, v in hard.items() if v is not None})),
        limits=LimitRange(Meta(naming.limit_range(name)), DEFAULT_REQUEST, DEFAULT_LIMIT),
        default_deny=DefaultDenyIngress(Meta(naming.DEFAULT_DENY_POLICY)),
        queue=queue, waypoint=mesh.waypoint(env, namespace, traits),
    )
    return project, problems


def quota_problems(projects: dict[str, Project], workloads: list[Workload],
                   docs: dict[tuple[str, str], Document]) -> list[Diagnostic]:
    """Guaranteed replicas must fit the GPU quota, peak replicas the budget's limit, the count its limit.

    Each problem is reported at the workload that goes past the limit: the first, in name order, at which the
    running total exceeds it (the one a user changes, not whichever sorts last)."""
    problems = []
    for project in projects.values():
        mine = sorted((w for w in workloads if w.project == project.name), key=lambda w: w.name)
        if not mine:
            continue
        budget = project.budget
        guaranteed = [w.scaling.min_replicas * w.compute.whole_gpus for w in mine]
        # a rollout's new replicas run beside the old ones (a surge; Knative's new revision): the peak counts them
        peak = [(w.scaling.max_replicas + w.service.surge_replicas) * w.compute.whole_gpus for w in mine]
        at = _first_past(guaranteed, budget.quota)
        if at is not None:
            w = mine[at]
            problems.append(docs[(project.name, w.name)].diagnostic(
                ("spec", "scaling", "minReplicas"),
                f"project {project.name} needs {sum(guaranteed)} GPUs at minReplicas, its quota is {budget.quota}",
                f"{w.name} takes it past the quota ({sum(guaranteed[:at])} GPUs before it in name order, "
                f"{w.scaling.min_replicas} x {w.compute.whole_gpus} of its own): "
                "raise spec.quota.gpus of the project or lower minReplicas"))
        at = _first_past(peak, budget.limit) if budget.limit is not None else None
        if at is not None:
            w = mine[at]
            problems.append(docs[(project.name, w.name)].diagnostic(
                ("spec", "scaling", "maxReplicas"),
                f"project {project.name} may reach {sum(peak)} GPUs at maxReplicas and during rollouts, above its "
                f"limit of {budget.limit}; replicas beyond it will stay pending",
                f"{w.name} takes it past the limit ({sum(peak[:at])} GPUs before it in name order, "
                f"{_replicas_at_peak(w)} x {w.compute.whole_gpus} of its own): "
                "raise spec.overQuota.gpuLimit of the project or lower maxReplicas", severity=WARNING))
        if project.workloads is not None and len(mine) > project.workloads:
            w = mine[project.workloads]
            problems.append(docs[(project.name, w.name)].diagnostic(
                ("metadata", "name"), f"project {project.name} allows {project.workloads} workloads, found {len(mine)}",
                f"{w.name} is workload {project.workloads + 1} in name order: raise spec.quota.workloads of the project "
                "or drop a workload from this environment (enabled: false)"))
    return problems


def _replicas_at_peak(w: Workload) -> str:
    surge = w.service.surge_replicas
    return f"({w.scaling.max_replicas} + {surge} in a rollout)" if surge else str(w.scaling.max_replicas)


def _first_past(amounts: list[int], limit: int) -> int | None:
    """The index at which the running sum of `amounts` first exceeds `limit`, or None."""
    total = 0
    for index, amount in enumerate(amounts):
        total += amount
        if total > limit:
            return index
    return None
