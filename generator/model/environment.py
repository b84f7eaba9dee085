"""The facts and policies of one environment's cluster, as resolve read them."""

from __future__ import annotations

from dataclasses import dataclass

from .common import Labels


@dataclass(frozen=True)
class Taint:
    key: str
    effect: str
    value: str | None = None


@dataclass(frozen=True)
class NodePool:
    name: str
    product: str                         # the nvidia.com/gpu.product label value its nodes carry
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
class Mesh:
    """How Istio reaches the workloads' pods: a sidecar injected per pod, or ambient (ztunnel plus a waypoint)."""

    mode: str                            # sidecar | ambient
    revision: str | None                 # an Istio revision (istio.io/rev) instead of the default injector
    cni: bool                            # Istio CNI sets up redirection: no privileged istio-init container


@dataclass(frozen=True)
class ScaleFromZero:
    """The component that holds a request while a scaled-to-zero workload starts, and where it runs."""

    via: str                             # knative | keda-http
    interceptor_namespace: str           # keda-http: the add-on's interceptor proxy


@dataclass(frozen=True)
class Environment:
    name: str
    source: str
    kubernetes_version: str
    kserve_version: str
    deployment_mode: str                 # Standard | Knative (spelled for the KServe version when written)
    autoscaling_backend: str             # hpa | keda | knative
    prometheus_address: str | None
    metrics: tuple[tuple[str, MetricSource], ...]
    scheduler: str                       # kai | default
    node_pool_label: str
    node_type_label: str
    priority_class: str | None
    node_pools: tuple[NodePool, ...]
    storage_default_class: str | None
    storage_shared_class: str | None
    gateway_namespace: str
    monitoring_namespace: str
    scrape_labels: Labels                # labels the Prometheus' podMonitorSelector selects
    knative_namespace: str               # where Knative's activator and autoscaler run
    mesh: Mesh
    scale_from_zero: ScaleFromZero | None
    identity: Identity | None
    allow_public_endpoints: bool
    auto_tolerate_taints: bool
    labels: Labels

    def metric(self, name: str) -> MetricSource | None:
        return dict(self.metrics).get(name)
