"""A resolved workload: every object it becomes, fully decided, as typed values.

Unions are closed sets of frozen dataclasses (Store, Scaling, Access, Volume); the construct registry picks
the construct for a value by its type, so a new kind of thing is one new variant here, one resolver and one
construct. Nothing here is looked up or defaulted later: names, labels, annotations and feature choices are set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Union

from .common import Labels, Meta, Provenance
from .profiles import ProfileDecision

# --------------------------------------------------------------------------------------------- pod building blocks


@dataclass(frozen=True)
class SecretKeyRef:
    name: str
    key: str


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str | None = None
    secret: SecretKeyRef | None = None   # exactly one of value and secret


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


Volume = Union[SharedMemoryVolume, EmptyDirVolume, ClaimVolume]


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
class Placement:
    pools: tuple[str, ...]               # priority order (for explain and the README)
    required: tuple[MatchExpression, ...]
    preferred: tuple[PreferredTerm, ...]
    tolerations: tuple[Toleration, ...]
    scheduler_name: str | None
    priority_class: str | None
    pod_labels: Labels                   # e.g. the KAI queue label


# --------------------------------------------------------------------------------------------- the InferenceService


@dataclass(frozen=True)
class StorageUri:
    uri: str
    mount_path: str


@dataclass(frozen=True)
class InferenceService:
    meta: Meta
    min_replicas: int
    max_replicas: int
    scale_metric: str | None             # Knative's KPA only: concurrency | rps
    scale_target: int | None
    placement: Placement
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
    pod_labels: Labels
    restart_policy: str
    pod_security: PodSecurity
    container: Container
    volumes: tuple[Volume, ...]
    pull_secrets: tuple[str, ...]


@dataclass(frozen=True)
class Ngc:
    kind: ClassVar[str] = "ngc"
    key: SecretKeyRef
    data_source: str | None
    cache: CacheClaim | ExistingClaim | None
    warmup: WarmupJob | None


@dataclass(frozen=True)
class Pvc:
    kind: ClassVar[str] = "pvc"
    claim: str
    sub_path: str | None


@dataclass(frozen=True)
class Uri:
    kind: ClassVar[str] = "uri"
    uri: str


Store = Union[Ngc, Pvc, Uri]


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
class Hpa(ExternalAutoscaler):
    backend: ClassVar[str] = "hpa"
    pods_metric: str
    average_value: str                   # the target as a Kubernetes quantity
    scale_down_window_seconds: int


@dataclass(frozen=True)
class Keda(ExternalAutoscaler):
    backend: ClassVar[str] = "keda"
    polling_interval_seconds: int
    cooldown_seconds: int | None         # KEDA applies it only to the last replica (scale to zero)
    server_address: str
    query: str
    threshold: str                       # the target as KEDA parses it (a float)


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


Scaling = Union[Fixed, Hpa, Keda, Knative]


@dataclass(frozen=True)
class DisruptionBudget:
    meta: Meta
    selector: Labels
    max_unavailable: int


# --------------------------------------------------------------------------------------------- access


@dataclass(frozen=True)
class IngressPolicy:
    """The NetworkPolicy of the predictor pods: which namespaces may open connections to the NIM port."""

    meta: Meta
    selector: Labels
    from_namespaces: tuple[str, ...]
    port: int


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
class Jwt:
    """Callers must present a valid token of the identity provider (and, for groups or users, a claim value)."""

    kind: str                            # authenticated | groups | users (display)
    authentication: Meta                 # the RequestAuthentication
    authorization: Meta                  # the AuthorizationPolicy
    selector: Labels
    issuer: str
    jwks_uri: str
    audiences: tuple[str, ...]
    claim: ClaimRule | None
    scrape_namespace: str                # Prometheus may GET the metrics path without a token
    scrape_paths: tuple[str, ...]
    scrape_methods: tuple[str, ...]


Access = Union[ClusterLocal, Public, Jwt]


# --------------------------------------------------------------------------------------------- the workload


@dataclass(frozen=True)
class Compute:
    gpus: int
    gpu_resource: str                    # nvidia.com/gpu or nvidia.com/mig-<profile>
    cpu: str
    memory: str
    shared_memory: str

    @property
    def whole_gpus(self) -> int:
        """GPUs this replica takes from the project's budget (MIG slices are not counted in it)."""
        return self.gpus if self.gpu_resource == "nvidia.com/gpu" else 0


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
    disruption: DisruptionBudget | None
    provenance: tuple[Provenance, ...] = field(default=(), compare=False)

    @property
    def parts(self) -> tuple:
        """Every decided value that may become objects; the construct registry knows what each renders."""
        found: list = [self.store, self.service, self.scaling, self.ingress, self.access]
        if isinstance(self.store, Ngc):
            found += [part for part in (self.store.cache, self.store.warmup) if part is not None]
        if self.disruption is not None:
            found.append(self.disruption)
        return tuple(found)
