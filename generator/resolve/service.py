"""The InferenceService: the NIM container contract plus the decisions of every other concern, in the
deployment mode the workload's scaling needs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import assert_never

from ..model import (Access, ClusterLocal, Compute, Container, DeploymentMode, EnvVar, Environment, Fixed, InferenceService,
                     Knative, Labels, Meta, Mount, Ngc, Placement, Port, Profile, ProfileDecision, Pvc, Rollout, Scaling,
                     SharedMemoryVolume, StorageUri, Store, Uri, Volume, labels_of)
from . import nim
from .compute import container_resources
from .context import WorkloadContext

SHM_VOLUME = "dshm"
# A GPU replica is the scarce thing: by default a rollout replaces pods one at a time instead of surging an
# extra replica, which would stall on a full GPU quota or a ReadWriteOnce cache (the NIM operator's
# inferenceservice.yaml uses maxSurge 0 too), at the price of the only replica of a single-replica workload.
# spec.rollout.maxSurge: 1 starts the successor first (maxUnavailable 0), counted in the project's GPU peak.
# KServe copies spec.predictor.deploymentStrategy to the Deployment (Standard mode only).
REPLACE = Rollout(max_surge=0, max_unavailable=1)
SURGE = Rollout(max_surge=1, max_unavailable=0)
# Knative waits this long for a revision's first pod before failing it (serving.knative.dev/progress-deadline,
# knative/serving pkg/apis/serving/register.go); it must cover the start-up probe's window.
KNATIVE_PROGRESS_DEADLINE = "serving.knative.dev/progress-deadline"
KNATIVE_RETENTION = "autoscaling.knative.dev/scale-to-zero-pod-retention-period"


@dataclass(frozen=True)
class RolloutDecision:
    rollout: Rollout | None              # the Deployment's strategy (Standard mode)
    surge_replicas: int
    down: bool


def resolve_rollout(ctx: WorkloadContext, scaling: Scaling, mode: DeploymentMode) -> RolloutDecision:
    surge = ctx.value(("spec", "rollout", "maxSurge"), None)
    if mode is DeploymentMode.KNATIVE:
        # Knative routes to a new revision once it is ready and only then scales the old one down: a rollout
        # always runs the new revision's pods (min-scale of them, at least its initial scale of 1) beside the old.
        if surge == 0:
            ctx.error(("spec", "rollout", "maxSurge"), "in Knative mode a rollout always starts the new revision "
                      "before it drains the old one", "drop spec.rollout, or run the workload in Standard mode")
        return RolloutDecision(None, max(1, scaling.min_replicas), down=False)
    rollout = SURGE if surge == 1 else REPLACE
    return RolloutDecision(rollout, rollout.max_surge, down=rollout.max_surge == 0 and scaling.min_replicas <= 1)


START_SECONDS = ("spec", "probes", "startup", "seconds")


def resolve_start_window(ctx: WorkloadContext, mode: DeploymentMode) -> int:
    """The start-up window. In Standard mode KServe leaves the predictor Deployment at the fixed progress deadline
    of 600 s, so a window can only stay within it less the pull allowance; in Knative mode nimgen sets the
    revision's progress deadline (and the waking request's timeout) from the window."""
    requested = ctx.value(START_SECONDS)
    if requested is not None and mode is DeploymentMode.STANDARD and requested > nim.STANDARD_START_SECONDS:
        ctx.error(START_SECONDS, f"a Standard-mode start-up window can be at most {nim.STANDARD_START_SECONDS}s: "
                  f"KServe's predictor Deployment has a fixed progress deadline of {nim.PROGRESS_DEADLINE_SECONDS}s, "
                  f"{nim.PULL_ALLOWANCE_SECONDS}s of which scheduling and the image pull take",
                  "fill the cache before the server starts (store.ngc.cache.warmup: true, or a pvc store), or run "
                  "the workload in Knative mode, whose deadline follows the window")
    return nim.start_window(mode, requested)


def start_problems(ctx: WorkloadContext, mode: DeploymentMode, store: Store, profile: Profile | None,
                   start_seconds: int) -> None:
    """In Standard mode a server that downloads its model as it starts must finish within the start-up window;
    a longer download restarts it until the deadline fails it."""
    size = profile.download_bytes if profile else None
    if mode is DeploymentMode.KNATIVE or size is None or not downloads_at_start(store):
        return
    seconds = math.ceil(size / nim.DOWNLOAD_BYTES_PER_SECOND)
    if seconds > start_seconds:
        ctx.warn(("spec", "store"), f"the server downloads {size / 1e9:.0f} GB as it starts, about {seconds}s at "
                 f"{nim.DOWNLOAD_BYTES_PER_SECOND * 8 / 1e9:.0f} Gb/s, but its Standard-mode start-up window is "
                 f"{start_seconds}s (at most {nim.STANDARD_START_SECONDS}s: KServe's progress deadline of "
                 f"{nim.PROGRESS_DEADLINE_SECONDS}s less {nim.PULL_ALLOWANCE_SECONDS}s to schedule and pull the image)",
                 "download before the server starts with store.ngc.cache.warmup: true, pre-stage the model (a pvc "
                 "store), or run the workload in Knative mode, whose progress deadline nimgen sets")


def downloads_at_start(store: Store) -> bool:
    """The server (or KServe's storage initializer before it) downloads the model each time a pod starts, or the
    first time when nothing fills its cache before it."""
    match store:
        case Ngc(warmup=warmup):
            return warmup is None
        case Uri():
            return True
        case Pvc():
            return False
        case _:
            assert_never(store)


def deployment_mode(env: Environment, scaling: Scaling) -> DeploymentMode:
    """Knative mode for an environment that runs it, and for a workload whose scaling Knative's KPA does (scale
    from zero via knative); the mode is per InferenceService (serving.kserve.io/deploymentMode)."""
    if env.deployment_mode is DeploymentMode.KNATIVE or isinstance(scaling, Knative):
        return DeploymentMode.KNATIVE
    return DeploymentMode.STANDARD


def autoscaler_class(env: Environment, scaling: Scaling, mode: DeploymentMode) -> str | None:
    """serving.kserve.io/autoscalerClass: "external" leaves replicas to nimgen's HPA, ScaledObject or
    HTTPScaledObject; "none" fixes them (KServe >= 0.15.1; before it the default hpa class with min = max is
    fixed too). Knative's KPA needs none."""
    if mode is DeploymentMode.KNATIVE:
        return None
    if isinstance(scaling, Fixed):
        return "none" if env.kserve.autoscaler_class_none else None
    return "external"


def service_annotations(env: Environment, own: dict[str, str], scaling: Scaling, mode: DeploymentMode,
                        start_seconds: int, profile: ProfileDecision, model: str | None, version: str | None) -> Labels:
    found = dict(own)
    found["serving.kserve.io/deploymentMode"] = env.kserve.spelled(mode)
    klass = autoscaler_class(env, scaling, mode)
    if klass is not None:
        found["serving.kserve.io/autoscalerClass"] = klass
    if mode is DeploymentMode.KNATIVE:
        # KServe copies these to the revision template (they are not on its disallowed list).
        # the deadline covers scheduling and the image pull as well as the start (as in Standard mode)
        found[KNATIVE_PROGRESS_DEADLINE] = f"{nim.deadline(start_seconds)}s"
    if isinstance(scaling, Knative):
        if scaling.retention_seconds is not None:
            found[KNATIVE_RETENTION] = f"{scaling.retention_seconds}s"
    found["nimgen.dev/profile"] = profile.label
    if model:
        found["nimgen.dev/model"] = f"{model}:{version}"
    return labels_of(found)


# KServe creates no HTTPRoute or Ingress for an InferenceService labelled cluster-local (Standard mode); Knative
# mode reads Knative's own label (kserve v0.20 reconcilers/ingress: httproute_reconciler.go,
# kube_ingress_reconciler.go, ingress_reconciler.go). Both are set, so the workload stays internal in either mode.
CLUSTER_LOCAL = (("networking.knative.dev/visibility", "cluster-local"), ("networking.kserve.io/visibility", "cluster-local"))


def visibility_labels(access: Access) -> Labels:
    return CLUSTER_LOCAL if isinstance(access, ClusterLocal) else ()


def request_timeout(scaling: Scaling, mode: DeploymentMode, start_seconds: int) -> int | None:
    """A request that wakes a Knative workload from zero waits in the activator for the cold start, and that wait
    counts against the revision's request timeout (300s by default): without a longer one the waking request ends
    in 504 while the model still loads. KServe copies spec.predictor.timeout to the revision's timeoutSeconds,
    which Knative caps at config-defaults max-revision-timeout-seconds (a prerequisite nimgen names)."""
    if mode is DeploymentMode.KNATIVE and scaling.min_replicas == 0:
        return nim.deadline(start_seconds)
    return None


@dataclass(frozen=True)
class ServerParts:
    """What the concerns besides the server contract give the NIM container and its pod: the whole environment
    (in order), volumes and their mounts, and what KServe's storage initializer downloads."""

    env: tuple[EnvVar, ...]
    volumes: tuple[Volume, ...]
    mounts: tuple[Mount, ...]
    storage_uris: tuple[StorageUri, ...]
    service_account: str | None


def inference_service(name: str, annotations_: Labels, labels: Labels, image: str, compute: Compute,
                      parts: ServerParts, scaling: Scaling, mode: DeploymentMode, start_seconds: int,
                      rollout: RolloutDecision, placement: Placement, pull_secrets: tuple[str, ...], pod_labels: Labels,
                      pod_annotations: Labels, read_only_root: bool) -> InferenceService:
    knative = scaling if isinstance(scaling, Knative) else None
    scratch_volumes, scratch_mounts = nim.scratch(read_only_root)
    container = Container(
        name=nim.CONTAINER_NAME, image=image, env=parts.env,
        resources=container_resources(compute), security=nim.container_security(read_only_root),
        mounts=(Mount(SHM_VOLUME, "/dev/shm"),) + parts.mounts + scratch_mounts,
        ports=(Port(nim.PORT_NAME, nim.PORT),), liveness=nim.LIVENESS, readiness=nim.READINESS,
        startup=nim.startup_probe(start_seconds))
    return InferenceService(
        meta=Meta(name, labels=labels, annotations=annotations_), mode=mode,
        min_replicas=scaling.min_replicas, max_replicas=scaling.max_replicas,
        request_timeout_seconds=request_timeout(scaling, mode, start_seconds),
        scale_metric=knative.scale_metric if knative else None, scale_target=knative.scale_target if knative else None,
        placement=placement, pod_labels=pod_labels, pod_annotations=pod_annotations,
        # NIM never calls the Kubernetes API: no token (checkov CKV_K8S_38), unless the store's service account
        # carries an object store identity (a cloud's workload identity may read the pod's token)
        service_account=parts.service_account, service_account_token=parts.service_account is not None,
        rollout=rollout.rollout,
        surge_replicas=rollout.surge_replicas, down_during_rollout=rollout.down,
        pull_secrets=pull_secrets, pod_security=nim.POD_SECURITY,
        storage_uris=parts.storage_uris, container=container,
        volumes=(SharedMemoryVolume(SHM_VOLUME, compute.shared_memory),) + parts.volumes + scratch_volumes)
