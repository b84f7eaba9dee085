"""The InferenceService: the NIM container contract plus the decisions of every other concern."""

from __future__ import annotations

from ..model import (Access, ClusterLocal, Compute, Container, EnvVar, InferenceService, Knative, Labels, Meta, Mount, Placement, Port,
                     ProfileDecision, Scaling, SharedMemoryVolume, labels_of)
from . import nim
from .compute import container_resources
from .scaling import autoscaler_class
from .storage import StorageDecision

SHM_VOLUME = "dshm"


def annotations(own: dict[str, str], deployment_mode: str, scaling: Scaling, profile: ProfileDecision,
                model: str | None, version: str | None) -> Labels:
    found = dict(own)
    found["serving.kserve.io/deploymentMode"] = deployment_mode
    klass = autoscaler_class(scaling)
    if klass is not None:
        found["serving.kserve.io/autoscalerClass"] = klass
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


def inference_service(name: str, annotations_: Labels, labels: Labels, image: str, profile: ProfileDecision, compute: Compute,
                      storage: StorageDecision, scaling: Scaling, placement: Placement,
                      pull_secrets: tuple[str, ...]) -> InferenceService:
    container = Container(
        name=nim.CONTAINER_NAME, image=image,
        env=(EnvVar("NIM_MODEL_PROFILE", profile.pin),) + storage.env,
        resources=container_resources(compute), security=nim.CONTAINER_SECURITY,
        mounts=(Mount(SHM_VOLUME, "/dev/shm"),) + storage.mounts,
        ports=(Port("http", nim.PORT),), liveness=nim.LIVENESS, readiness=nim.READINESS, startup=nim.STARTUP)
    knative = scaling if isinstance(scaling, Knative) else None
    return InferenceService(
        meta=Meta(name, labels=labels, annotations=annotations_),
        min_replicas=scaling.min_replicas, max_replicas=scaling.max_replicas,
        scale_metric=knative.scale_metric if knative else None, scale_target=knative.scale_target if knative else None,
        placement=placement, pull_secrets=pull_secrets, pod_security=nim.POD_SECURITY,
        storage_uris=storage.storage_uris, container=container,
        volumes=(SharedMemoryVolume(SHM_VOLUME, compute.shared_memory),) + storage.volumes)
