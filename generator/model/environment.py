"""The facts and policies of one environment's cluster, as resolve read them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Union

from .common import Labels
from .env import EnvSetting


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
    nodes: int | None = None             # how many nodes the pool has; None: unknown, its capacity unchecked


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


class DeploymentMode(Enum):
    """How KServe runs a predictor: a Deployment it owns (Standard), or a Knative Service (Knative)."""

    STANDARD = "Standard"
    KNATIVE = "Knative"


class AutoscalingBackend(Enum):
    """Who scales workloads between their minimum and maximum replicas by default."""

    HPA = "hpa"                          # a HorizontalPodAutoscaler on a per-pod metric (Prometheus adapter)
    KEDA = "keda"                        # a KEDA ScaledObject on a Prometheus query
    KNATIVE = "knative"                  # Knative's KPA, from the InferenceService's own scale metric


@dataclass(frozen=True)
class KServe:
    """The KServe release the cluster runs, and what that release reads (decided once, in resolve)."""

    version: str                         # major.minor
    standard_mode: str                   # the spelling of each mode it knows (RawDeployment/Serverless before 0.16)
    knative_mode: str
    storage_uris: bool                   # spec.predictor.storageUris (0.16); before it, STORAGE_URI in the env
    autoscaler_class_none: bool          # serving.kserve.io/autoscalerClass: none fixes the replicas

    def spelled(self, mode: DeploymentMode) -> str:
        return self.knative_mode if mode is DeploymentMode.KNATIVE else self.standard_mode


@dataclass(frozen=True)
class IngressGateway:
    """The pods through which outside callers reach exposed workloads: a namespace, and there the pods with
    pod_labels (every pod of it when empty); and KServe's ingress domain, when the environment names it."""

    namespace: str
    pod_labels: Labels
    domain: str | None = None


@dataclass(frozen=True)
class Sidecar:
    """Istio injects a proxy into each pod of a labelled namespace."""

    revision: str | None                 # an Istio revision (istio.io/rev) instead of the default injector
    cni: bool                            # Istio CNI sets up redirection: no privileged istio-init container
    privileged: bool = False             # the user chose Pod Security privileged for meshed namespaces
    mode: ClassVar[str] = "sidecar"


@dataclass(frozen=True)
class Ambient:
    """ztunnel carries a namespace's traffic; a waypoint proxy enforces L7 policy for its Services."""

    trust_domain: str = "cluster.local"  # the first part of every SPIFFE identity (principal) in the mesh
    mode: ClassVar[str] = "ambient"


Mesh = Union[Sidecar, Ambient]


@dataclass(frozen=True)
class MeshedPrometheus:
    """Prometheus runs in the mesh: its scrapes carry its identity, its service account's (any identity of the
    monitoring namespace when none is named)."""

    service_account: str | None


@dataclass(frozen=True)
class PlainTextPrometheus:
    """Prometheus runs outside the mesh: its scrapes carry no identity, so only an open port admits them."""


Scraper = Union[MeshedPrometheus, PlainTextPrometheus]


@dataclass(frozen=True)
class WakeByKnative:
    """Knative's activator holds a request while a scaled-to-zero revision starts."""

    via: ClassVar[str] = "knative"


@dataclass(frozen=True)
class WakeByKedaHttp:
    """The KEDA HTTP add-on's interceptor holds a request while the predictor Deployment scales from zero."""

    interceptor_namespace: str
    interceptor_address: str             # the interceptor proxy Service's cluster DNS name
    interceptor_port: int
    via: ClassVar[str] = "keda-http"


ScaleFromZero = Union[WakeByKnative, WakeByKedaHttp]


@dataclass(frozen=True)
class Priority:
    """A priority level workloads name (spec.scheduling.priority), and the PriorityClass it stands for."""

    name: str
    class_name: str


@dataclass(frozen=True)
class KaiScheduler:
    """Pods are placed by the KAI scheduler, in their project's queue."""

    scheduler_name: str
    name: ClassVar[str] = "kai"


@dataclass(frozen=True)
class DefaultScheduler:
    name: ClassVar[str] = "default"


Scheduler = Union[KaiScheduler, DefaultScheduler]


@dataclass(frozen=True)
class Images:
    """Where catalog NIM images are pulled from: nvcr.io, or a registry that mirrors it (an air-gapped cluster)."""

    mirror: str | None                   # nvcr.io/nim/<repo>:<tag> is pulled as <mirror>/<repo>:<tag>
    pull_secret: str | None              # the pull Secret for catalog images (a store's own pullSecret wins)


@dataclass(frozen=True)
class Proxy:
    http: str | None
    https: str | None
    no_proxy: tuple[str, ...]            # the user's hosts, then the cluster's own names nimgen adds


@dataclass(frozen=True)
class CaBundle:
    config_map: str
    key: str


@dataclass(frozen=True)
class OutboundNetwork:
    """How NIM and its warm-up reach NGC and object stores: through a proxy, trusting extra certificates."""

    proxy: Proxy | None = None
    ca_bundle: CaBundle | None = None


@dataclass(frozen=True)
class GitOps:
    """How Argo CD and Flux sync the environment's out/<env>/ from git (spec.gitops)."""

    repo_url: str
    revision: str
    cluster: str                         # Argo CD's destination: an API server URL, or a cluster's name in Argo CD
    prune: bool                          # delete what out/ no longer holds

    @property
    def cluster_is_url(self) -> bool:
        return self.cluster.startswith("https://")


@dataclass(frozen=True)
class Environment:
    name: str
    source: str
    kubernetes_version: str
    native_sidecars: bool                # Kubernetes runs restartPolicy Always init containers (1.29 on)
    match_label_keys: bool               # a topology spread may count by pod label values (1.27 on)
    kserve: KServe
    deployment_mode: DeploymentMode      # the environment's; a workload may need Knative mode on its own
    autoscaling_backend: AutoscalingBackend
    prometheus_address: str | None
    metrics: tuple[tuple[str, MetricSource], ...]
    scheduler: Scheduler
    priorities: tuple[Priority, ...]     # the levels workloads may name, in the order the environment lists them
    default_priority: Priority | None    # a workload's level unless it names one (always set under KAI)
    node_pool_label: str
    node_type_label: str
    node_pools: tuple[NodePool, ...]
    storage_default_class: str | None
    storage_shared_class: str | None
    gateway: IngressGateway
    monitoring_namespace: str
    scrape_labels: Labels                # labels the Prometheus' podMonitorSelector selects
    scraper: Scraper                     # how Prometheus reaches the pods of an ambient mesh
    knative_namespace: str               # where Knative's activator and autoscaler run
    mesh: Mesh
    scale_from_zero: ScaleFromZero | None
    identity: Identity | None
    allow_public_endpoints: bool
    auto_tolerate_taints: bool
    labels: Labels
    images: Images
    nim_env: tuple[EnvSetting, ...]      # spec.nim.env: every NIM container's variables, under each workload's
    network: OutboundNetwork             # how NIM reaches NGC and object stores, unless a workload says otherwise
    gitops: GitOps | None                # None: no Argo CD or Flux objects for it
    layered_on_base: bool                # spec.base: base (its inputs are layered on environments/base/)

    def priority(self, name: str) -> Priority | None:
        return next((p for p in self.priorities if p.name == name), None)

    def metric(self, name: str) -> MetricSource | None:
        return dict(self.metrics).get(name)
