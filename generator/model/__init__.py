"""The resolved model: what resolve hands to construct and report. Frozen, typed, fully decided.

It imports no stage: resolve builds it, construct and report only read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .common import Labels, Meta, Provenance, labels_of
from .environment import Environment, Identity, MetricSource, NodePool, Taint
from .profiles import Profile, ProfileDecision, Rejection, Selection
from .project import (DefaultDenyIngress, GpuBudget, LimitRange, NamespaceObject, Project, Queue, QueueResource,
                      ResourceQuota)
from .workload import (Access, CacheClaim, ClaimRule, ClaimVolume, ClusterLocal, Compute, Container,
                       ContainerSecurity, DisruptionBudget, EmptyDirVolume, EnvVar, ExistingClaim, Fixed, Hpa,
                       InferenceService, IngressPolicy, Jwt, Keda, Knative, MatchExpression, Mount, Ngc, Placement,
                       PodSecurity, Port, PreferredTerm, Probe, Public, Pvc, Resources, ScaleTarget, Scaling,
                       SecretKeyRef, SharedMemoryVolume, Store, StorageUri, Toleration, Uri, Volume, WarmupJob,
                       Workload)


@dataclass(frozen=True)
class ResolvedEnvironment:
    environment: Environment
    projects: tuple[Project, ...]
    workloads: tuple[Workload, ...]

    @property
    def queues(self) -> tuple[Queue, ...]:
        return tuple(p.queue for p in self.projects if p.queue is not None)


__all__ = [name for name in dir() if not name.startswith("_")]
