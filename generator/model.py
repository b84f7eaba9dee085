"""The resolved model: what the resolve stage hands to construct. Frozen, fully decided, no lookups left.

Construct reads these objects and only maps them to Kubernetes shapes; every decision (defaults, templates,
profile, names, storage class, tolerations) has been made by resolve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .profiles import Profile, Selection

Labels = tuple[tuple[str, str], ...]  # sorted (key, value) pairs: hashable and ordered


@dataclass(frozen=True)
class Taint:
    key: str
    effect: str
    value: str | None = None


@dataclass(frozen=True)
class NodePool:
    name: str
    product: str
    per_node: int
    memory: str | None = None
    device: str | None = None
    mig_profiles: tuple[str, ...] = ()
    taints: tuple[Taint, ...] = ()


@dataclass(frozen=True)
class MetricSource:
    pods_metric: str | None = None
    query: str | None = None


@dataclass(frozen=True)
class Identity:
    issuer: str
    jwks_uri: str
    audiences: tuple[str, ...] = ()
    groups_claim: str = "groups"
    user_claim: str = "email"


@dataclass(frozen=True)
class Environment:
    name: str
    source: str
    kubernetes_version: str
    kserve_version: str
    deployment_mode: str
    autoscaling_backend: str
    prometheus_address: str | None
    metrics: tuple[tuple[str, MetricSource], ...]
    scheduler: str                      # kai | default
    node_pool_label: str
    node_type_label: str
    priority_class: str | None
    node_pools: tuple[NodePool, ...]
    storage_default_class: str | None
    storage_shared_class: str | None
    gateway_namespace: str
    monitoring_namespace: str
    identity: Identity | None
    allow_public_endpoints: bool
    auto_tolerate_taints: bool
    labels: Labels

    def metric(self, name: str) -> MetricSource | None:
        return dict(self.metrics).get(name)


@dataclass(frozen=True)
class Project:
    name: str
    namespace: str
    sources: tuple[str, ...]
    quota_gpus: int
    quota_cpu: str | None
    quota_memory: str | None
    quota_workloads: int | None
    over_quota_weight: int
    gpu_limit: int | None
    labels: Labels                       # project charge-back labels plus the environment's


@dataclass(frozen=True)
class Access:
    type: str                            # public | authenticated | groups | users | clusterLocal
    groups: tuple[str, ...] = ()
    users: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheVolume:
    claim: str                           # the PVC mounted at NIM_CACHE_PATH
    create: bool                         # render the PVC (False: an existing claim)
    data_source: str
    size: str | None = None
    storage_class: str | None = None
    access_mode: str | None = None
    warmup: bool = False


@dataclass(frozen=True)
class Store:
    kind: str                            # ngc | pvc | uri
    secret: str | None = None            # Secret holding the NGC key (ngc only)
    secret_key: str = "NGC_API_KEY"
    cache: CacheVolume | None = None
    claim: str | None = None             # pvc: pre-staged claim
    sub_path: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Compute:
    gpus: int
    gpu_resource: str                    # nvidia.com/gpu or nvidia.com/mig-<profile>
    gpu_product: str | None
    cpu: str
    memory: str
    shared_memory: str


@dataclass(frozen=True)
class Scaling:
    min_replicas: int
    max_replicas: int
    backend: str                         # hpa | keda | knative | none
    metric: str | None = None
    target: float | None = None
    pods_metric: str | None = None
    query: str | None = None
    prometheus_address: str | None = None
    scale_to_zero_after: int | None = None


@dataclass(frozen=True)
class Toleration:
    key: str | None = None
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


@dataclass(frozen=True)
class Placement:
    pools: tuple[str, ...]               # priority order
    required: tuple[tuple[str, str, tuple[str, ...]], ...]        # (key, operator, values)
    preferred: tuple[tuple[int, tuple[tuple[str, str, tuple[str, ...]], ...]], ...]  # (weight, expressions)
    tolerations: tuple[Toleration, ...]
    scheduler_name: str | None
    queue: str | None
    priority_class: str | None


@dataclass(frozen=True)
class ProfileDecision:
    mode: str                            # auto | name | id
    pin: str                             # NIM_MODEL_PROFILE
    profile: Profile | None              # None only for custom images
    selection: Selection | None = None   # auto only: every candidate and why
    request: str = ""                    # human summary of what was asked


@dataclass(frozen=True)
class Workload:
    name: str
    project: Project
    sources: tuple[str, ...]
    labels: Labels
    annotations: Labels
    image: str
    model: str | None                    # catalog model name, None for a custom image
    model_version: str | None
    profile: ProfileDecision
    access: Access
    store: Store
    compute: Compute
    scaling: Scaling
    placement: Placement
    pull_secrets: tuple[str, ...]
    effective: tuple[tuple[str, Any, str], ...] = field(default=(), compare=False)  # (path, value, origin) for explain

    @property
    def namespace(self) -> str:
        return self.project.namespace


@dataclass(frozen=True)
class ResolvedEnvironment:
    environment: Environment
    projects: tuple[Project, ...]
    workloads: tuple[Workload, ...]
