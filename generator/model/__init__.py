"""The resolved model: what resolve hands to construct and report. Frozen, typed, fully decided.

It imports no stage: resolve builds it, construct and report only read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .common import Labels, Meta, Provenance, labels_of
from .environment import (Ambient, AutoscalingBackend, DefaultScheduler, DeploymentMode, Environment, Identity, IngressGateway,
                          KaiScheduler, KServe, Mesh, MeshedPrometheus, MetricSource, PlainTextPrometheus, Scraper, NodePool, ScaleFromZero, Scheduler, Sidecar, Taint,
                          WakeByKedaHttp, WakeByKnative)
from .network import AddressPeer, IngressPolicy, IngressRule, NamespacePeer, Peer
from .profiles import Profile, ProfileDecision, Rejection, Selection
from .project import (DefaultDenyIngress, GpuBudget, LimitRange, NamespaceObject, Project, Queue, QueueResource,
                      ResourceQuota, Waypoint)
from .workload import (Access, CacheClaim, ClaimRule, ClaimVolume, ClusterLocal, Compute, Container,
                       ContainerSecurity, DisruptionBudget, GpuRequest, MigSlice, PodSelector, PolicyBinding, ServiceTarget,
                       WholeGpus, EmptyDirVolume, EnvVar, ExistingClaim, Fixed, Hpa,
                       InferenceService, Jwt, Keda, KedaHttp, Knative, MatchExpression,
                       Mount, Ngc, PeerPolicy, Placement, PodSecurity, Port, PreferredTerm, Probe, Public, Pvc,
                       IdentityRule, Resources, Rollout, ZtunnelGuard, ScaleTarget, Scaling, Scrape, SecretKeyRef, SharedMemoryVolume, Store,
                       StorageUri, TokenlessRule, Toleration, Uri, Volume, WakeService, WarmupJob, Workload)


@dataclass(frozen=True)
class Prerequisite:
    """Something the cluster must run or hold for the output to work: a controller, a CRD, a Secret, a label."""

    feature: str                         # what needs it (e.g. "token access")
    needs: str


@dataclass(frozen=True)
class ResolvedEnvironment:
    environment: Environment
    projects: tuple[Project, ...]
    workloads: tuple[Workload, ...]
    prerequisites: tuple[Prerequisite, ...] = ()
    exposures: tuple[str, ...] = ()      # what stays open beyond what the access levels say (README)

    @property
    def queues(self) -> ClusterQueues:
        return ClusterQueues(tuple(p.queue for p in self.projects if p.queue is not None))


@dataclass(frozen=True)
class ClusterQueues:
    """The environment's KAI queues: one cluster-scoped file."""

    queues: tuple[Queue, ...]


# What one output file of out/<env>/ is rendered from.
@dataclass(frozen=True)
class Preparation:
    """A workload's objects that must be in place, and finished, before its server starts (its store's warm-up
    Job and the claim it fills): one file of out/<env>/prepare/."""

    workload: Workload


OutputFile = Union[Workload, Preparation, Project, ClusterQueues]


__all__ = [
    "Access", "AddressPeer", "Ambient", "AutoscalingBackend", "CacheClaim", "ClaimRule", "ClaimVolume", "ClusterLocal",
    "ClusterQueues", "Compute", "Container", "ContainerSecurity", "DefaultDenyIngress", "DefaultScheduler",
    "DeploymentMode", "DisruptionBudget", "EmptyDirVolume", "EnvVar", "Environment", "ExistingClaim", "Fixed",
    "GpuBudget", "GpuRequest", "Hpa", "Identity", "IdentityRule", "IngressGateway", "InferenceService", "IngressPolicy",
    "IngressRule", "Jwt",
    "KServe", "KaiScheduler", "Keda", "KedaHttp", "Knative", "Labels", "LimitRange", "MatchExpression", "Mesh",
    "MeshedPrometheus", "Meta", "MetricSource", "MigSlice", "Mount", "NamespaceObject", "NamespacePeer", "Ngc", "NodePool", "OutputFile", "Peer",
    "PeerPolicy",
    "Placement", "PlainTextPrometheus", "Preparation", "PodSecurity", "PodSelector", "PolicyBinding", "Port", "PreferredTerm", "Prerequisite", "Probe",
    "Profile", "ProfileDecision", "Project", "Provenance", "Public", "Pvc", "Queue", "QueueResource", "Rejection",
    "ResolvedEnvironment", "ResourceQuota", "Resources", "Rollout", "ScaleFromZero", "ScaleTarget", "Scaling",
    "Scheduler", "Scrape", "Scraper", "SecretKeyRef", "Selection", "ServiceTarget", "SharedMemoryVolume", "Sidecar",
    "StorageUri", "Store", "Taint", "TokenlessRule", "Toleration", "Uri", "Volume", "WakeByKedaHttp",
    "WakeByKnative", "WakeService", "WarmupJob", "Waypoint", "WholeGpus", "Workload", "ZtunnelGuard", "common", "environment",
    "labels_of", "network", "profiles", "project", "workload",
]
