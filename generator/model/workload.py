"""A resolved workload: every object it becomes, fully decided, as typed values.

Unions are closed sets of frozen dataclasses (Store, Scaling, Access, Volume, PolicyBinding, GpuRequest); each
construct `match`es over the union it renders, and the type checker proves every variant handled, so a new kind
of thing is one new variant here, one resolver and one construct. Nothing here is looked up or defaulted later: names, labels, annotations and feature choices are set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Union, assert_never

from .common import Labels, Meta, Provenance
from .env import EnvVar, SecretKeyRef
from .network import IngressPolicy
from .environment import DeploymentMode, OutboundNetwork
from .profiles import ProfileDecision

# --------------------------------------------------------------------------------------------- pod building blocks


@dataclass(frozen=True)
class SharedMemoryVolume:
    """A memory-backed emptyDir for /dev/shm (tensor-parallel ranks exchange data through it)."""

    name: str
    size: str


@dataclass(frozen=True)
class EmptyDirVolume:
    name: str


@dataclass(frozen=True)
class ClaimVolume:
    name: str
    claim: str
    read_only: bool = False


@dataclass(frozen=True)
class ConfigMapVolume:
    """One key of a ConfigMap as a file (a CA bundle)."""

    name: str
    config_map: str
    key: str
    path: str                            # the file's name in the volume


Volume = Union[SharedMemoryVolume, EmptyDirVolume, ClaimVolume, ConfigMapVolume]


@dataclass(frozen=True)
class Mount:
    volume: str
    path: str
    read_only: bool = False
    sub_path: str | None = None


@dataclass(frozen=True)
class Probe:
    path: str
    port: int
    period_seconds: int
    failure_threshold: int
    timeout_seconds: int


@dataclass(frozen=True)
class ContainerSecurity:
    allow_privilege_escalation: bool
    drop_capabilities: tuple[str, ...]
    read_only_root: bool = False         # the image's filesystem is read-only; writable paths are volumes


@dataclass(frozen=True)
class PodSecurity:
    run_as_non_root: bool
    run_as_user: int
    run_as_group: int
    fs_group: int
    seccomp_profile: str                 # RuntimeDefault: required by Pod Security "restricted"


@dataclass(frozen=True)
class Resources:
    requests: Labels
    limits: Labels


@dataclass(frozen=True)
class Port:
    name: str
    number: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    env: tuple[EnvVar, ...]
    resources: Resources
    security: ContainerSecurity
    mounts: tuple[Mount, ...]
    command: tuple[str, ...] = ()
    ports: tuple[Port, ...] = ()
    liveness: Probe | None = None
    readiness: Probe | None = None
    startup: Probe | None = None


@dataclass(frozen=True)
class MatchExpression:
    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreferredTerm:
    weight: int
    expressions: tuple[MatchExpression, ...]


@dataclass(frozen=True)
class Toleration:
    key: str | None = None
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


@dataclass(frozen=True)
class Spread:
    """A topology spread constraint over one workload's replicas: at most one more on any node (or zone) than on
    another, as a rule (the scheduler leaves a replica pending) or a preference."""

    topology_key: str
    required: bool
    selector: Labels                     # the workload's pods
    match_label_keys: tuple[str, ...]    # pod labels whose values split the count (a rollout's old and new pods)


@dataclass(frozen=True)
class Placement:
    pools: tuple[str, ...]               # priority order (for explain and the README)
    required: tuple[MatchExpression, ...]
    preferred: tuple[PreferredTerm, ...]
    tolerations: tuple[Toleration, ...]
    scheduler_name: str | None
    priority_class: str | None
    pod_labels: Labels                   # the KAI queue and preemptibility labels
    spread: Spread | None = None
    preemptible: bool = False            # KAI may preempt the replicas (display; the label decides on the cluster)


# --------------------------------------------------------------------------------------------- the InferenceService


@dataclass(frozen=True)
class StorageUri:
    uri: str
    mount_path: str


@dataclass(frozen=True)
class Rollout:
    """How the predictor Deployment replaces pods (Standard mode): by default never more GPU pods than
    replicas; with a surge of one, one extra replica starts before an old one stops."""

    max_surge: int
    max_unavailable: int


@dataclass(frozen=True)
class InferenceService:
    meta: Meta
    mode: DeploymentMode                 # the deployment mode this InferenceService is created in
    min_replicas: int
    max_replicas: int
    scale_metric: str | None             # Knative's KPA only: concurrency | rps
    scale_target: int | None
    request_timeout_seconds: int | None  # Knative's revision timeout: a waking request waits for the cold start
    placement: Placement
    pod_labels: Labels                   # spec.predictor.labels: the queue label, mesh opt-outs
    pod_annotations: Labels              # spec.predictor.annotations
    service_account: str | None
    service_account_token: bool          # mount the service account's API token (only where something uses it)
    rollout: Rollout | None              # None in Knative mode (Knative rolls revisions itself)
    surge_replicas: int                  # replicas a rollout runs beside the old ones (quota peak)
    down_during_rollout: bool            # a rollout may stop the only replica before its successor serves
    pull_secrets: tuple[str, ...]
    pod_security: PodSecurity
    storage_uris: tuple[StorageUri, ...]
    container: Container
    volumes: tuple[Volume, ...]


# --------------------------------------------------------------------------------------------- storage


@dataclass(frozen=True)
class CacheClaim:
    """A PVC nimgen renders for the NIM cache, sized and classed from a DataSource."""

    meta: Meta
    size: str
    storage_class: str | None
    access_mode: str

    @property
    def name(self) -> str:
        return self.meta.name


@dataclass(frozen=True)
class ExistingClaim:
    name: str


@dataclass(frozen=True)
class WarmupJob:
    """Fills the cache claim once (download-to-cache), so replicas start warm instead of each downloading."""

    meta: Meta
    backoff_limit: int
    active_deadline_seconds: int         # the Job fails (and Argo CD's sync with it) instead of hanging forever
    pod_labels: Labels
    restart_policy: str
    pod_security: PodSecurity
    service_account_token: bool
    container: Container
    volumes: tuple[Volume, ...]
    pull_secrets: tuple[str, ...]


@dataclass(frozen=True)
class Ngc:
    kind: ClassVar[str] = "ngc"
    key: SecretKeyRef | None             # None: the cache is prefilled and NIM never reaches NGC (an air gap)
    data_source: str | None
    cache: CacheClaim | ExistingClaim | None
    warmup: WarmupJob | None

    @property
    def prepared(self) -> bool:
        """The warm-up and the claim it fills must exist, and the Job finish, before the server starts: they
        are rendered apart from the workload's other objects (out/<env>/prepare/), and applied first."""
        return self.warmup is not None


@dataclass(frozen=True)
class Pvc:
    kind: ClassVar[str] = "pvc"
    claim: str
    sub_path: str | None


@dataclass(frozen=True)
class Uri:
    kind: ClassVar[str] = "uri"
    uri: str
    service_account: str | None = None   # KServe reads s3:// and gs:// credentials from its secrets
    token_secret: str | None = None      # hf://: the Secret holding HF_TOKEN


Store = Union[Ngc, Pvc, Uri]


# --------------------------------------------------------------------------------------------- LoRA adapters


@dataclass(frozen=True)
class LoraFromClaim:
    """Adapters pre-staged in a claim (one folder per adapter), mounted read-only where NIM looks for them."""

    kind: ClassVar[str] = "pvc"
    claim: str
    sub_path: str | None


@dataclass(frozen=True)
class LoraFromUri:
    """Adapters in object storage, downloaded by KServe's storage initializer before the server starts."""

    kind: ClassVar[str] = "uri"
    uri: str
    service_account: str | None = None   # KServe reads s3:// and gs:// credentials from its secrets


LoraSource = Union[LoraFromClaim, LoraFromUri]


@dataclass(frozen=True)
class Lora:
    """LoRA adapters NIM serves beside the base model (NIM_PEFT_SOURCE and its limits)."""

    source: LoraSource
    path: str                            # the directory inside the container (NIM_PEFT_SOURCE)
    max_gpu_adapters: int | None
    max_cpu_adapters: int | None
    refresh_seconds: int | None


# --------------------------------------------------------------------------------------------- scaling


@dataclass(frozen=True)
class ScaleTarget:
    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class Fixed:
    """No autoscaler: KServe keeps the replica count (autoscalerClass none)."""

    backend: ClassVar[str] = "none"
    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class ExternalAutoscaler:
    """An autoscaler object nimgen renders beside the InferenceService (KServe autoscalerClass external)."""

    meta: Meta
    target_ref: ScaleTarget              # the predictor Deployment KServe creates
    min_replicas: int
    max_replicas: int
    metric: str
    target: float


@dataclass(frozen=True)
class Pace:
    """How fast the HPA (KEDA's too) moves the replica count. A NIM replica serves only after minutes of loading,
    while the metric that asked for it still reads high: at most `scale_up_pods` are added per start window, so
    replicas still loading do not ask for more. Replicas are removed only after the metric stayed low a while."""

    scale_up_pods: int
    scale_up_period_seconds: int         # the workload's start-up window
    scale_down_window_seconds: int


@dataclass(frozen=True)
class Hpa(ExternalAutoscaler):
    backend: ClassVar[str] = "hpa"
    pods_metric: str
    average_value: str                   # the target as a Kubernetes quantity
    pace: Pace


@dataclass(frozen=True)
class Keda(ExternalAutoscaler):
    backend: ClassVar[str] = "keda"
    polling_interval_seconds: int
    server_address: str
    query: str
    threshold: str                       # the target as KEDA parses it (a float)
    metric_type: str                     # AverageValue: a sum shared by replicas; Value: a level such as latency
    pace: Pace
    fallback_replicas: int | None        # replicas KEDA keeps while its query fails (AverageValue triggers only)
    fallback_failures: int               # failed queries in a row before the fallback applies


@dataclass(frozen=True)
class WakeService:
    """An ExternalName Service callers use so that requests reach the KEDA HTTP interceptor, which holds them
    while the workload starts from zero."""

    meta: Meta
    external_name: str                   # the interceptor proxy Service's cluster DNS name
    port: int
    address: str                         # what callers use: <name>.<namespace>:<port>


@dataclass(frozen=True)
class KedaHttp(ExternalAutoscaler):
    """The KEDA HTTP add-on scales on the requests its interceptor sees, from zero."""

    backend: ClassVar[str] = "keda-http"
    service: str                         # the predictor Service the interceptor forwards to
    service_port: int
    hosts: tuple[str, ...]               # Host headers the interceptor routes to this workload
    scaling_metric: str                  # concurrency | requestRate
    target_value: int
    scaledown_period_seconds: int
    condition_wait: str                  # how long the interceptor holds a request while replicas start
    response_header: str
    wake: WakeService


@dataclass(frozen=True)
class Knative:
    """Knative's KPA scales the predictor itself: the InferenceService carries the metric."""

    backend: ClassVar[str] = "knative"
    min_replicas: int
    max_replicas: int
    metric: str
    target: float
    scale_metric: str                    # concurrency | rps
    scale_target: int
    retention_seconds: int | None        # how long the last pod stays after traffic stops (scale to zero)


Scaling = Union[Fixed, Hpa, Keda, KedaHttp, Knative]


@dataclass(frozen=True)
class DisruptionBudget:
    meta: Meta
    selector: Labels
    max_unavailable: int


# --------------------------------------------------------------------------------------------- access



@dataclass(frozen=True)
class Scrape:
    """A prometheus-operator PodMonitor: Prometheus scrapes NIM's metrics from every predictor pod, and each
    series carries the workload's name under `series_labels` so autoscaler queries can select it."""

    meta: Meta
    selector: Labels
    port: str                            # the container port's name
    path: str
    series_labels: Labels                # pod label -> series label


@dataclass(frozen=True)
class PeerPolicy:
    """An Istio PeerAuthentication that accepts plain text on the given ports (a Prometheus or an interceptor
    outside the mesh); the JWT rules still guard the API on them."""

    meta: Meta
    selector: Labels
    permissive_ports: tuple[int, ...]


@dataclass(frozen=True)
class ClusterLocal:
    kind: ClassVar[str] = "clusterLocal"


@dataclass(frozen=True)
class Public:
    kind: ClassVar[str] = "public"


@dataclass(frozen=True)
class ClaimRule:
    claim: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class PodSelector:
    """Sidecar mode: the policies select the predictor pods, whose proxies enforce them."""

    labels: Labels


@dataclass(frozen=True)
class IdentityRule:
    """An L4 ALLOW rule that ztunnel enforces: connections from these mTLS identities (principals, or any
    identity of these namespaces; neither: any caller, plain text included) to these ports (empty: any)."""

    principals: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class ZtunnelGuard:
    """Ambient mode: an L4 AuthorizationPolicy on the predictor pods, enforced by their ztunnel, that admits the
    waypoint's identity and the scrape, so no caller reaches the API past the waypoint's token rules."""

    meta: Meta
    selector: Labels
    rules: tuple[IdentityRule, ...]


@dataclass(frozen=True)
class ServiceTarget:
    """Ambient mode: the policies target the predictor Service, whose waypoint enforces them; ztunnel admits
    only the waypoint (and the scrape) to the pods behind it."""

    service: str
    guard: ZtunnelGuard


PolicyBinding = Union[PodSelector, ServiceTarget]


@dataclass(frozen=True)
class TokenlessRule:
    """Requests the AuthorizationPolicy admits without a token: from these namespaces (mTLS peers; empty: any
    peer, plain text included), not from those, with these methods (empty: any) on these paths."""

    paths: tuple[str, ...]
    methods: tuple[str, ...] = ()
    from_namespaces: tuple[str, ...] = ()
    not_from_namespaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class Jwt:
    """Callers must present a valid token of the identity provider (and, for groups or users, a claim value)."""

    kind: str                            # authenticated | groups | users (display)
    authentication: Meta                 # the RequestAuthentication
    authorization: Meta                  # the AuthorizationPolicy
    binding: PolicyBinding               # what enforces the policies: the pods' sidecars or the waypoint
    issuer: str
    jwks_uri: str
    audiences: tuple[str, ...]
    claim: ClaimRule | None
    tokenless: tuple[TokenlessRule, ...] # what is admitted without a token (the metrics scrape, Knative's probes)


Access = Union[ClusterLocal, Public, Jwt]


# --------------------------------------------------------------------------------------------- the workload


@dataclass(frozen=True)
class WholeGpus:
    """Whole GPUs of a node (the device plugin's nvidia.com/gpu), counted in the project's GPU budget."""

    count: int
    resource: ClassVar[str | None] = "nvidia.com/gpu"


@dataclass(frozen=True)
class MigSlice:
    """One MIG slice (the device plugin's mixed strategy: nvidia.com/mig-<profile>)."""

    profile: str

    @property
    def resource(self) -> str | None:
        return f"nvidia.com/mig-{self.profile}"

    @property
    def compute_units(self) -> int:
        """The slice's compute units (the 'g' of 1g.10gb), of the seven a MIG-capable GPU has."""
        return int(self.profile.split("g.", 1)[0])


@dataclass(frozen=True)
class GpuFraction:
    """A share of one GPU that the KAI scheduler places (pod annotation gpu-fraction); the pod requests no
    nvidia.com/gpu, so no ResourceQuota sees it."""

    fraction: Decimal
    resource: ClassVar[str | None] = None

    @property
    def engine_fraction(self) -> Decimal:
        """The part of the GPU's memory NIM's engine is told it may use."""
        return self.fraction

    @property
    def of_gpu(self) -> Decimal:
        """The part of a GPU KAI counts for it in the queue."""
        return self.fraction


@dataclass(frozen=True)
class GpuMemory:
    """GPU memory that the KAI scheduler places on a shared GPU (pod annotation gpu-memory, in MiB)."""

    mib: int
    of_gpu: Decimal                      # the part of a GPU it takes where GPUs have the least memory (quota)
    engine_fraction: Decimal             # ... where they have the most: the engine never takes more than the share
    resource: ClassVar[str | None] = None


GpuShare = Union[GpuFraction, GpuMemory]
GpuRequest = Union[WholeGpus, MigSlice, GpuFraction, GpuMemory]


@dataclass(frozen=True)
class Compute:
    gpus: int                            # GPUs the pinned profile runs on (a MIG slice or a share is one device)
    gpu: GpuRequest                      # what each replica requests
    cpu: str
    memory: str
    shared_memory: str
    budget_gpus: Decimal                 # what one replica counts in its project's GPU budget and KAI queue

    @property
    def whole_gpus(self) -> int:
        """nvidia.com/gpu devices this replica requests (what a ResourceQuota on nvidia.com/gpu sees)."""
        match self.gpu:
            case WholeGpus(count):
                return count
            case MigSlice() | GpuFraction() | GpuMemory():
                return 0
            case _:
                assert_never(self.gpu)


@dataclass(frozen=True)
class Workload:
    name: str
    project: str
    namespace: str
    sources: tuple[str, ...]
    labels: Labels                       # on every object of the workload (chart-level)
    image: str
    model: str | None                    # catalog model name, None for a custom image
    model_version: str | None
    profile: ProfileDecision
    compute: Compute
    store: Store
    scaling: Scaling
    access: Access
    service: InferenceService
    ingress: IngressPolicy
    scrape: Scrape
    peer: PeerPolicy | None              # in a meshed namespace: plain text accepted on the scraped ports
    disruption: DisruptionBudget | None
    lora: Lora | None
    network: OutboundNetwork             # the proxy and CA bundle NIM (and its warm-up) go out with
    start_seconds: int                   # the start-up window: how long a replica may take to become ready
    provenance: tuple[Provenance, ...] = field(default=(), compare=False)

    @property
    def peak_replicas(self) -> int:
        """The most replicas it runs at once: maxReplicas, and the ones a rollout starts beside them (a surge;
        Knative's new revision)."""
        return self.scaling.max_replicas + self.service.surge_replicas
