"""Hand-built model values for construct tests: a complete, minimal Workload and Project, each field a choice.

These are written by hand, not produced by resolve, so a construct test shows what construct renders for a
given decision, whatever resolve would decide.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from nimgen.model import (ClaimRule, ClusterLocal, Compute, Container, ContainerSecurity, DefaultDenyIngress, NamespacePeer,
                          DeploymentMode, DisruptionBudget, Fixed, GpuBudget, IngressPolicy, IngressRule,
                          InferenceService, Jwt, LimitRange, Meta, NamespaceObject, OutboundNetwork, Placement, PodSecurity, PodSelector,
                          ProfileDecision, Project, Pvc, Queue, QueueResource, ResourceQuota, Resources, Rollout, Scrape,
                          TokenlessRule, WholeGpus, Workload)

SELECTOR = (("serving.kserve.io/inferenceservice", "w"),)
LABELS = (("app.kubernetes.io/managed-by", "nimgen"), ("team", "t"))


def container(**changes) -> Container:
    return replace(Container("kserve-container", "nvcr.io/nim/x:1", env=(), resources=Resources((), ()),
                             security=ContainerSecurity(False, ("ALL",)), mounts=()), **changes)


def service(**changes) -> InferenceService:
    isvc = InferenceService(
        meta=Meta("w"), mode=DeploymentMode.STANDARD, min_replicas=1, max_replicas=1, scale_metric=None, scale_target=None,
        request_timeout_seconds=None,
        placement=Placement((), (), (), (), None, None, ()), pod_labels=(), pod_annotations=(), service_account=None,
        service_account_token=False, rollout=Rollout(0, 1), surge_replicas=0, down_during_rollout=True, pull_secrets=(), pod_security=PodSecurity(True, 1000, 1000, 1000, "RuntimeDefault"),
        storage_uris=(), container=container(), volumes=())
    return replace(isvc, **changes)


def jwt(claim: ClaimRule | None = None, **changes) -> Jwt:
    scrape = TokenlessRule(paths=("/v1/metrics",), methods=("GET",), not_from_namespaces=("istio-system",))
    return replace(Jwt("groups" if claim else "authenticated", Meta("w-jwt"), Meta("w-access"), PodSelector(SELECTOR),
                       "https://id.example", "https://id.example/jwks", (), claim, (scrape,)), **changes)


def workload(**changes) -> Workload:
    w = Workload(
        name="w", project="p", namespace="ns", sources=("environments/e/workloads/w.yaml",), labels=LABELS,
        image="nvcr.io/nim/x:1", model=None, model_version=None, profile=ProfileDecision("name", "pin", None),
        compute=Compute(1, WholeGpus(1), "1", "1Gi", "512Mi", Decimal(1)), store=Pvc("claim", None), scaling=Fixed(1, 1),
        access=ClusterLocal(), service=service(),
        ingress=IngressPolicy(Meta("w-ingress"), SELECTOR, (IngressRule((NamespacePeer("monitoring"),), (8000,)), IngressRule((NamespacePeer("ns"),), (8000,)))),
        scrape=Scrape(Meta("w"), SELECTOR, "http1", "/v1/metrics", (("serving.kserve.io/inferenceservice", "inferenceservice"),)),
        peer=None, disruption=None, lora=None, network=OutboundNetwork(), start_seconds=420)
    return replace(w, **changes)


def pdb() -> DisruptionBudget:
    return DisruptionBudget(Meta("w"), SELECTOR, 1)


def project(**changes) -> Project:
    labels = (("nimgen.dev/project", "p"),)
    p = Project(
        name="p", namespace="ns", sources=("environments/e/projects/p.yaml",), labels=labels, charge_back=(),
        budget=GpuBudget(Decimal(4), Decimal(6)), department=None, over_quota_weight=1, cpu=None, memory=None, workloads=None,
        namespace_object=NamespaceObject(Meta("ns")),
        quota=ResourceQuota(Meta("p-quota"), (("requests.nvidia.com/gpu", "6"),)),
        limits=LimitRange(Meta("p-defaults"), (("cpu", "100m"),), (("cpu", "1"),)),
        default_deny=DefaultDenyIngress(Meta("default-deny-ingress")),
        queue=Queue(Meta("p", labels), "p", QueueResource(Decimal(4), Decimal(6), 1), QueueResource(Decimal(-1), Decimal(-1), 1),
                    QueueResource(Decimal(-1), Decimal(-1), 1)))
    return replace(p, **changes)
