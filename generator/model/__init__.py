"""The resolved model: what resolve hands to construct and report. Frozen, typed, fully decided.

It imports no stage: resolve builds it, construct and report only read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Union

from .common import Labels, Meta, Provenance, labels_of
from .env import ConfigMapKeyRef, EnvRemoval, EnvSetting, EnvValue, EnvVar, SecretKeyRef
from .environment import (Ambient, AutoscalingBackend, CaBundle, GitOps, Images, OutboundNetwork, Proxy, DefaultScheduler, DeploymentMode, Environment, Identity, IngressGateway,
                          KaiScheduler, KServe, Mesh, MeshedPrometheus, MetricSource, PlainTextPrometheus, Scraper, NodePool, Priority, ScaleFromZero, Scheduler, Sidecar, Taint,
                          WakeByKedaHttp, WakeByKnative)
from .network import AddressPeer, IngressPolicy, IngressRule, NamespacePeer, Peer
from .profiles import Profile, ProfileDecision, Rejection, Selection
from .project import (DefaultDenyIngress, Department, GpuBudget, LimitRange, NamespaceObject, Project, Queue, QueueResource, QueueScheduling,
                      ResourceQuota, Waypoint)
from .workload import (Access, CacheClaim, ClaimRule, ClaimVolume, ClusterLocal, Compute, Container,
                       ContainerSecurity, DisruptionBudget, GpuFraction, GpuMemory, GpuRequest, GpuShare, MigSlice, PodSelector, PolicyBinding, ServiceTarget,
                       WholeGpus, ConfigMapVolume, EmptyDirVolume, ExistingClaim, Fixed, Hpa,
                       InferenceService, Jwt, Keda, KedaHttp, Knative, Lora, LoraFromClaim, LoraFromUri, LoraSource, MatchExpression, Pace,
                       Mount, Ngc, PeerPolicy, Placement, PodSecurity, Port, PreferredTerm, Probe, Public, Pvc,
                       IdentityRule, Resources, Rollout, ZtunnelGuard, ScaleTarget, Scaling, Scrape, SharedMemoryVolume, Spread, Store,
                       StorageUri, TokenlessRule, Toleration, Uri, Volume, WakeService, WarmupJob, Workload)


@dataclass(frozen=True)
class Prerequisite:
    """Something the cluster must run or hold for the output to work: a controller, a CRD, a Secret, a label."""

    feature: str                         # what needs it (e.g. "token access")
    needs: str


@dataclass(frozen=True)
class PoolUse:
    """A sized node pool's GPUs and what the environment's replicas take of them (GPUs; shares in fractions)."""

    pool: str
    nodes: int
    gpus: int
    guaranteed: Decimal                  # at minReplicas
    peak: Decimal                        # at maxReplicas, with rollouts' extra replicas

    @property
    def headroom(self) -> Decimal:
        return self.gpus - self.peak


@dataclass(frozen=True)
class ResolvedEnvironment:
    environment: Environment
    projects: tuple[Project, ...]
    workloads: tuple[Workload, ...]
    departments: tuple[Department, ...] = ()
    capacity: tuple[PoolUse, ...] = ()   # the sized pools (nodePools[].nodes)
    prerequisites: tuple[Prerequisite, ...] = ()
    exposures: tuple[str, ...] = ()      # what stays open beyond what the access levels say (README)

    @property
    def queues(self) -> ClusterQueues:
        """Departments' queues first: a child queue names a parent that must exist."""
        parents = tuple(d.queue for d in self.departments if d.queue is not None)
        return ClusterQueues(parents + tuple(p.queue for p in self.projects if p.queue is not None))


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


@dataclass(frozen=True)
class ArgoApplications:
    """One Argo CD Application per environment with spec.gitops, made by an ApplicationSet whose list generator
    holds each environment's settings: out/gitops/argocd/."""

    name: str
    namespace: str                       # where Argo CD runs
    environments: tuple[tuple[str, GitOps], ...]


@dataclass(frozen=True)
class FluxSync:
    """An environment's Flux objects: the GitRepository and one Kustomization per part of out/<env>/ (prepare,
    then serve), chained: out/gitops/flux/<env>/."""

    environment: str
    namespace: str                       # where Flux runs
    gitops: GitOps
    prepare_timeout_seconds: int         # the longest warm-up may take (a Kustomization with wait holds until then)


OutputFile = Union[Workload, Preparation, Project, ClusterQueues, ArgoApplications, FluxSync]


__all__ = [
    "ArgoApplications", "FluxSync", "Access", "AddressPeer", "Ambient", "AutoscalingBackend", "CacheClaim", "ClaimRule", "ClaimVolume", "ClusterLocal",
    "ClusterQueues", "Compute", "Container", "ContainerSecurity", "DefaultDenyIngress", "DefaultScheduler", "Department",
    "CaBundle", "GitOps", "Images", "OutboundNetwork", "Proxy", "Lora", "LoraFromClaim", "LoraFromUri", "LoraSource", "Pace", "DeploymentMode", "DisruptionBudget", "ConfigMapKeyRef", "ConfigMapVolume", "EmptyDirVolume", "EnvRemoval", "EnvSetting", "EnvValue", "EnvVar", "Environment", "ExistingClaim", "Fixed",
    "GpuBudget", "GpuFraction", "GpuMemory", "GpuRequest", "GpuShare", "Hpa", "Identity", "IdentityRule", "IngressGateway", "InferenceService", "IngressPolicy",
    "IngressRule", "Jwt",
    "KServe", "KaiScheduler", "Keda", "KedaHttp", "Knative", "Labels", "LimitRange", "MatchExpression", "Mesh",
    "MeshedPrometheus", "Meta", "MetricSource", "MigSlice", "Mount", "NamespaceObject", "NamespacePeer", "Ngc", "NodePool", "OutputFile", "Peer",
    "PeerPolicy",
    "Placement", "PlainTextPrometheus", "Preparation", "PodSecurity", "PodSelector", "PolicyBinding", "PoolUse", "Port", "PreferredTerm", "Prerequisite", "Priority", "Probe",
    "Profile", "ProfileDecision", "Project", "Provenance", "Public", "Pvc", "Queue", "QueueResource", "QueueScheduling", "Rejection",
    "ResolvedEnvironment", "ResourceQuota", "Resources", "Rollout", "ScaleFromZero", "ScaleTarget", "Scaling",
    "Scheduler", "Scrape", "Scraper", "SecretKeyRef", "Selection", "ServiceTarget", "SharedMemoryVolume", "Sidecar", "Spread",
    "StorageUri", "Store", "Taint", "TokenlessRule", "Toleration", "Uri", "Volume", "WakeByKedaHttp",
    "WakeByKnative", "WakeService", "WarmupJob", "Waypoint", "WholeGpus", "Workload", "ZtunnelGuard", "common", "environment",
    "labels_of", "network", "profiles", "project", "workload",
]
