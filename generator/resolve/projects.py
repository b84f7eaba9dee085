"""Projects: namespace, guard rails, the one GPU budget, the KAI queue, and the checks that read the budget."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from ..diagnostics import WARNING, Diagnostic
from ..inputs.load import Document, PathKey
from ..model import (DefaultDenyIngress, Environment, KaiScheduler, GpuBudget, LimitRange, Meta, NamespaceObject, Project, Queue,
                     MigSlice, QueueResource, QueueScheduling, ResourceQuota, Workload, labels_of)
from ..quantities import binary, canonical, exact, megabytes, millicores, parse, plain
from . import mesh, naming
from .compute import mig_gpus
from .context import sources_of
from .mesh import NamespaceTraits

UNLIMITED = -1      # KAI's "no limit" (and unlimited quota), also accepted in overQuota.gpuLimit
# Containers that declare nothing (sidecars, debug pods) get these; NIM containers always declare their own.
DEFAULT_REQUEST = (("cpu", "100m"), ("memory", "128Mi"))
DEFAULT_LIMIT = (("cpu", "1"), ("memory", "512Mi"))


def gpu_budget(doc: Document, at: PathKey = ("spec",), owner: str = "project") -> tuple[GpuBudget, list[Diagnostic]]:
    """quota.gpus is guaranteed; overQuota.gpuLimit (default: the quota, -1: unlimited) is the most it may hold.
    `at` is where the quota and overQuota fields are (a project's spec, or one department of an environment)."""
    spec = _at(doc.data, at)
    quota = exact(spec["quota"]["gpus"])
    limit = exact(spec.get("overQuota", {}).get("gpuLimit", spec["quota"]["gpus"]))
    if limit == UNLIMITED:
        return GpuBudget(quota, None), []
    if limit < quota:
        file, line, _ = doc.where((*at, "quota", "gpus"))
        return GpuBudget(quota, limit), [doc.diagnostic(
            (*at, "overQuota", "gpuLimit"), f"gpuLimit {plain(limit)} is below the {owner}'s GPU quota of {plain(quota)}",
            f"a KAI queue's limit must be at least its quota (quota.gpus is set at {file}:{line}): "
            "raise overQuota.gpuLimit, or lower quota.gpus")]
    return GpuBudget(quota, limit), []


def _at(data: Any, path: PathKey) -> Any:
    for key in path:
        data = data[key]
    return data


def queue_scheduling(spec: dict[str, Any]) -> QueueScheduling:
    """Queue spec.priority, preemptMinRuntime and reclaimMinRuntime (in KAI's Queue CRD from v0.10; see
    docs/CLUSTER.md for the version each needs)."""
    given = spec.get("scheduling", {})
    return QueueScheduling(given.get("priority"), given.get("preemptMinRuntime"), given.get("reclaimMinRuntime"))


def kai_queue(meta: Meta, budget: GpuBudget, weight: int, cpu: str | None, memory: str | None,
              parent: str | None, scheduling: QueueScheduling) -> Queue:
    return Queue(
        meta, display_name=meta.name,
        gpu=QueueResource(budget.quota, budget.limit if budget.limit is not None else Decimal(UNLIMITED), weight),
        # A quota nimgen is not given is unlimited (-1), not 0: KAI lets a non-preemptible pod (inference, by
        # default) use only in-quota resources, checked for every resource at the queue and each ancestor, and skips
        # only -1 (isAllocatedNonPreemptibleOverQuota, pkg/scheduler/plugins/proportion/capacity_policy/
        # quota_check.go): a cpu quota of 0 would hold every inference pod pending.
        cpu=QueueResource(Decimal(millicores(cpu)) if cpu else Decimal(UNLIMITED), Decimal(UNLIMITED), weight),
        memory=QueueResource(Decimal(megabytes(memory)) if memory else Decimal(UNLIMITED), Decimal(UNLIMITED), weight),
        parent=parent, scheduling=scheduling)


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


MIG_RESOURCE = re.compile(r"^[0-9]+g\.[0-9]+gb$")   # the slices KAI counts (+me slices it counts as 0)


def mig_quota(env: Environment, budget: GpuBudget) -> dict[str, str | None]:
    """Per MIG slice type the environment's pools offer, the most slices the GPU limit allows, counting a slice as
    KAI does (its compute units in GPUs; see compute.mig_gpus): a namespace can then not hold more slices than its
    budget, though only nimgen's check and the queue bound a mix of types."""
    if budget.limit is None:
        return {}
    found: dict[str, str | None] = {}
    for profile in sorted({m for p in env.node_pools for m in p.mig_profiles if MIG_RESOURCE.match(m)}):
        found[f"requests.{MigSlice(profile).resource}"] = str(int(budget.limit // mig_gpus(MigSlice(profile))))
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
    department = spec.get("department")
    # whole GPUs only: a device request is a whole number, and GPU shares request none (KAI counts them)
    hard = {"requests.cpu": cpu, "requests.memory": memory,
            "requests.nvidia.com/gpu": str(int(budget.limit)) if budget.limit is not None else None,
            "count/inferenceservices.serving.kserve.io": str(workloads) if workloads is not None else None}
    hard.update(mig_quota(env, budget))
    queue = None
    if isinstance(env.scheduler, KaiScheduler):
        queue = kai_queue(Meta(name, labels), budget, weight, cpu, memory, department, queue_scheduling(spec))
    project = Project(
        name=name, namespace=namespace, sources=sources_of(doc), labels=labels, charge_back=charge_back,
        budget=budget, department=department, over_quota_weight=weight, cpu=cpu, memory=memory, workloads=workloads,
        namespace_object=NamespaceObject(Meta(namespace, labels_of(namespace_labels(env, traits)))),
        quota=ResourceQuota(Meta(naming.resource_quota(name)), labels_of({k: v for k, v in hard.items() if v is not None})),
        limits=LimitRange(Meta(naming.limit_range(name)), DEFAULT_REQUEST, DEFAULT_LIMIT),
        default_deny=DefaultDenyIngress(Meta(naming.DEFAULT_DENY_POLICY)),
        queue=queue, waypoint=mesh.waypoint(env, namespace, traits),
    )
    return project, problems


@dataclass(frozen=True)
class Budgeted:
    """One resource a project's quota bounds, as the quota check reads it."""

    per_replica: Callable[[Workload], Decimal]
    show: Callable[[Decimal], str]           # an amount with its unit ("6 GPUs", "12 CPU", "48Gi of memory")
    show_bound: Callable[[Decimal], str]     # the quota or limit it is compared with
    quota: Decimal | None                # guaranteed: replicas at minReplicas must fit (None: unbounded)
    limit: Decimal | None                # the most it may hold: replicas beyond it pend or are refused
    quota_field: str
    limit_field: str
    beyond_limit: str                    # what happens to replicas past the limit
    subject: str = ""                    # which replicas are counted, when not all
    limit_name: str = "limit"


def _gpus(amount: Decimal) -> str:
    return f"{plain(amount)} GPUs"


def _cpu(amount: Decimal) -> str:
    return f"{plain(amount)} CPU"


def _memory(amount: Decimal) -> str:
    return f"{binary(amount)} of memory"


def budgeted(project: Project) -> list[Budgeted]:
    """GPUs against the budget (a KAI queue's quota and limit); CPU and memory against the ResourceQuota, which
    refuses pods past it, so their quota is their limit too."""
    found = [Budgeted(lambda w: w.compute.budget_gpus, _gpus, plain, project.budget.quota, project.budget.limit,
                      "spec.quota.gpus", "spec.overQuota.gpuLimit", "will stay pending")]
    if project.queue is not None:
        # KAI lets non-preemptible replicas use only in-quota resources (quota_check.go): over quota they pend
        found.append(Budgeted(lambda w: Decimal(0) if w.service.placement.preemptible else w.compute.budget_gpus,
                              _gpus, plain, None, project.budget.quota, "spec.quota.gpus", "spec.quota.gpus",
                              "will stay pending: KAI gives non-preemptible replicas only in-quota GPUs",
                              " with non-preemptible replicas", "quota"))
    for key, amount, per_replica, show in (("cpu", project.cpu, lambda w: parse(w.compute.cpu), _cpu),
                                           ("memory", project.memory, lambda w: parse(w.compute.memory), _memory)):
        if amount is not None:
            field = f"spec.quota.{key}"
            found.append(Budgeted(per_replica, show, show, parse(amount), parse(amount), field, field,
                                  "are refused by the namespace's ResourceQuota"))
    return found


def quota_problems(projects: dict[str, Project], workloads: list[Workload],
                   docs: dict[tuple[str, str], Document]) -> list[Diagnostic]:
    """Guaranteed replicas must fit each quota (GPUs, CPU, memory), peak replicas each limit, the count its limit.

    Each problem is reported at the workload that goes past the limit: the first, in name order, at which the
    running total exceeds it (the one a user changes, not whichever sorts last)."""
    problems = []
    for project in projects.values():
        mine = sorted((w for w in workloads if w.project == project.name), key=lambda w: w.name)
        if not mine:
            continue
        for resource in budgeted(project):
            problems.extend(_budget_problems(project, resource, mine, docs))
        if project.workloads is not None and len(mine) > project.workloads:
            w = mine[project.workloads]
            problems.append(docs[(project.name, w.name)].diagnostic(
                ("metadata", "name"), f"project {project.name} allows {project.workloads} workloads, found {len(mine)}",
                f"{w.name} is workload {project.workloads + 1} in name order: raise spec.quota.workloads of the project "
                "or drop a workload from this environment (enabled: false)"))
    return problems


def _budget_problems(project: Project, r: Budgeted, mine: list[Workload],
                     docs: dict[tuple[str, str], Document]) -> list[Diagnostic]:
    problems = []
    guaranteed = [w.scaling.min_replicas * r.per_replica(w) for w in mine]
    # a rollout's new replicas run beside the old ones (a surge; Knative's new revision): the peak counts them
    peak = [w.peak_replicas * r.per_replica(w) for w in mine]
    at = _first_past(guaranteed, r.quota) if r.quota is not None else None
    if at is not None and r.quota is not None:
        w = mine[at]
        problems.append(docs[(project.name, w.name)].diagnostic(
            ("spec", "scaling", "minReplicas"),
            f"project {project.name} needs {r.show(sum(guaranteed, Decimal(0)))} at minReplicas, its quota is "
            f"{r.show_bound(r.quota)}",
            f"{w.name} takes it past the quota ({r.show(sum(guaranteed[:at], Decimal(0)))} before it in name order, "
            f"{w.scaling.min_replicas} x {r.show(r.per_replica(w))} of its own): "
            f"raise {r.quota_field} of the project or lower minReplicas"))
    at = _first_past(peak, r.limit) if r.limit is not None else None
    if at is not None and r.limit is not None:
        w = mine[at]
        problems.append(docs[(project.name, w.name)].diagnostic(
            ("spec", "scaling", "maxReplicas"),
            f"project {project.name}{r.subject} may reach {r.show(sum(peak, Decimal(0)))} at maxReplicas and during "
            f"rollouts, above its {r.limit_name} of {r.show_bound(r.limit)}; "
            f"replicas beyond it {r.beyond_limit}",
            f"{w.name} takes it past the limit ({r.show(sum(peak[:at], Decimal(0)))} before it in name order, "
            f"{_replicas_at_peak(w)} x {r.show(r.per_replica(w))} of its own): "
            f"raise {r.limit_field} of the project{', mark workloads preemptible,' if r.subject else ''} or lower "
            "maxReplicas", severity=WARNING))
    return problems


def _replicas_at_peak(w: Workload) -> str:
    surge = w.service.surge_replicas
    return f"({w.scaling.max_replicas} + {surge} in a rollout)" if surge else str(w.scaling.max_replicas)


def _first_past(amounts: list[Decimal], limit: Decimal) -> int | None:
    """The index at which the running sum of `amounts` first exceeds `limit`, or None."""
    total = Decimal(0)
    for index, amount in enumerate(amounts):
        total += amount
        if total > limit:
            return index
    return None
