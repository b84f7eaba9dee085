"""GitOps: what Argo CD and Flux need to sync each environment's out/<env>/ from git, decided over every
environment with spec.gitops (a full build: the ApplicationSet lists them all)."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import ArgoApplications, FluxSync, Ngc, ResolvedEnvironment

ARGOCD_NAMESPACE = "argocd"              # where Argo CD's install puts its ApplicationSet controller
FLUX_NAMESPACE = "flux-system"           # where flux bootstrap installs Flux
APPLICATION_SET = "nimgen"
# Flux waits for prepare/ (its warm-up Jobs) this much longer than the longest Job may run, for scheduling and
# the image pull; without warm-ups, Flux's own default (its interval, 10m) is ample.
PREPARE_SLACK_SECONDS = 600


@dataclass(frozen=True)
class GitOpsFiles:
    applications: ArgoApplications | None
    flux: tuple[FluxSync, ...]


def prepare_timeout(resolved: ResolvedEnvironment) -> int:
    deadlines = [w.store.warmup.active_deadline_seconds for w in resolved.workloads
                 if isinstance(w.store, Ngc) and w.store.warmup is not None]
    return max(deadlines, default=0) + PREPARE_SLACK_SECONDS


def gitops_files(resolved: dict[str, ResolvedEnvironment]) -> GitOpsFiles:
    synced = [(name, r) for name, r in sorted(resolved.items()) if r.environment.gitops is not None]
    if not synced:
        return GitOpsFiles(None, ())
    apps = ArgoApplications(APPLICATION_SET, ARGOCD_NAMESPACE,
                            tuple((name, r.environment.gitops) for name, r in synced if r.environment.gitops))
    flux = tuple(FluxSync(name, FLUX_NAMESPACE, r.environment.gitops, prepare_timeout(r))
                 for name, r in synced if r.environment.gitops)
    return GitOpsFiles(apps, flux)
