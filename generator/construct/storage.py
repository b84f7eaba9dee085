"""Storage objects beside the InferenceService: the NIM cache claim and the warm-up Job that fills it."""

from __future__ import annotations

from typing import Any, assert_never

from constructs import Construct

from ..model import CacheClaim, ExistingClaim, Ngc, Pvc, Store, Uri, WarmupJob
from .base import api_object, container, pod_security, pull_secrets, volume


def store(scope: Construct, value: Store) -> None:
    """The objects of a store beside the InferenceService (a prepared store's are rendered by `prepared`)."""
    match value:
        case Ngc(cache=cache) if not value.prepared:
            match cache:
                case CacheClaim():
                    cache_claim(scope, cache)
                case ExistingClaim() | None:
                    pass                 # a claim someone else made, or an emptyDir in the pod
                case _:
                    assert_never(cache)
        case Ngc() | Pvc() | Uri():
            pass                         # prepared apart, mounted, or downloaded within the predictor pod
        case _:
            assert_never(value)


def prepared(scope: Construct, value: Store) -> None:
    """What must be in place and finished before the server starts: the warm-up Job and the claim it fills."""
    if isinstance(value, Ngc) and value.warmup is not None:
        if isinstance(value.cache, CacheClaim):
            cache_claim(scope, value.cache)
        warmup_job(scope, value.warmup)


def cache_claim(scope: Construct, claim: CacheClaim) -> None:
    spec: dict[str, Any] = {"accessModes": [claim.access_mode], "resources": {"requests": {"storage": claim.size}}}
    if claim.storage_class:
        spec["storageClassName"] = claim.storage_class
    api_object(scope, "v1", "PersistentVolumeClaim", claim.meta, spec=spec)


def warmup_job(scope: Construct, job: WarmupJob) -> None:
    pod = {"restartPolicy": job.restart_policy, "securityContext": pod_security(job.pod_security),
           **({} if job.service_account_token else {"automountServiceAccountToken": False}),
           "containers": [container(job.container)], "volumes": [volume(v) for v in job.volumes],
           **pull_secrets(job.pull_secrets)}
    api_object(scope, "batch/v1", "Job", job.meta,
               spec={"backoffLimit": job.backoff_limit, "activeDeadlineSeconds": job.active_deadline_seconds,
                     "template": {"metadata": {"labels": dict(job.pod_labels)}, "spec": pod}})
