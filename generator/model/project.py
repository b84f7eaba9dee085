"""A project: its namespace and guard rails, one GPU budget, and its KAI queue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .common import Labels, Meta
from .network import IngressPolicy


@dataclass(frozen=True)
class GpuBudget:
    """The one place a project's GPU numbers live: KAI queue, ResourceQuota and the quota checks all read it."""

    quota: Decimal                       # guaranteed GPUs (KAI counts GPU shares in fractions of a GPU)
    limit: Decimal | None                # the most GPUs it may hold, borrowing over quota; None = unlimited


@dataclass(frozen=True)
class NamespaceObject:
    meta: Meta


@dataclass(frozen=True)
class ResourceQuota:
    meta: Meta
    hard: Labels                         # resource name -> quantity


@dataclass(frozen=True)
class LimitRange:
    """Defaults for containers that declare nothing (sidecars, debug pods); NIM containers are explicit."""

    meta: Meta
    default_request: Labels
    default_limit: Labels


@dataclass(frozen=True)
class DefaultDenyIngress:
    meta: Meta


@dataclass(frozen=True)
class Waypoint:
    """An Istio ambient waypoint (a Gateway API Gateway) for a namespace's Services."""

    meta: Meta
    gateway_class: str
    listener: str
    port: int
    protocol: str
    ingress: IngressPolicy               # who may open connections to the waypoint's pods (default deny otherwise)


@dataclass(frozen=True)
class QueueResource:
    quota: Decimal                       # the guaranteed amount (0: none; KAI reads -1 as unlimited)
    limit: Decimal                       # -1 = no limit
    over_quota_weight: int


@dataclass(frozen=True)
class QueueScheduling:
    """How KAI orders and protects a queue's jobs (Queue spec.priority, preemptMinRuntime, reclaimMinRuntime)."""

    priority: int | None = None          # over-quota resources go first to queues of higher priority
    preempt_min_runtime: str | None = None   # a job runs at least this long before a higher priority preempts it
    reclaim_min_runtime: str | None = None   # ... before another queue reclaims its over-quota resources


@dataclass(frozen=True)
class Queue:
    """A KAI scheduler Queue (cluster-scoped): gpu in fractions of a GPU, cpu in millicores, memory in MB, as
    KAI counts them."""

    meta: Meta
    display_name: str
    gpu: QueueResource
    cpu: QueueResource
    memory: QueueResource
    parent: str | None = None            # the department's queue a project's queue shares quota under
    scheduling: QueueScheduling = QueueScheduling()


@dataclass(frozen=True)
class Department:
    """A group of projects with a quota they share: a parent KAI queue over the projects' queues."""

    name: str
    source: str                          # the environment file that declares it
    budget: GpuBudget
    cpu: str | None
    memory: str | None
    queue: Queue | None                  # under KAI only


@dataclass(frozen=True)
class Project:
    name: str
    namespace: str
    sources: tuple[str, ...]
    labels: Labels                       # on every object of the project (chart-level)
    charge_back: Labels                  # the environment's and project's labels, inherited by its workloads
    budget: GpuBudget
    department: str | None
    over_quota_weight: int
    cpu: str | None
    memory: str | None
    workloads: int | None
    namespace_object: NamespaceObject
    quota: ResourceQuota
    limits: LimitRange
    default_deny: DefaultDenyIngress
    queue: Queue | None                  # under KAI only
    waypoint: Waypoint | None = None     # ambient mesh only
