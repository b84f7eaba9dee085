"""Storage objects beside the InferenceService: the NIM cache claim and the warm-up Job that fills it."""

from __future__ import annotations

from constructs import Construct

from ..model import CacheClaim, ExistingClaim, Ngc, Pvc, Uri, WarmupJob
from .base import api_object, container, pod_security, pull_secrets, volume
from .registry import renders, renders_nothing

# The store itself renders nothing: its claim and Job are parts of their own; Pvc and Uri live in the pod spec.
renders_nothing(Ngc, Pvc, Uri, ExistingClaim)


@renders(CacheClaim)
class CacheClaimConstruct(Construct):
    def __init__(self, scope: Construct, claim: CacheClaim):
        super().__init__(scope, f"claim-{claim.meta.name}")
        spec: dict = {"accessModes": [claim.access_mode], "resources": {"requests": {"storage": claim.size}}}
        if claim.storage_class:
            spec["storageClassName"] = claim.storage_class
        api_object(self, "v1", "PersistentVolumeClaim", claim.meta, spec=spec)


@renders(WarmupJob)
class WarmupJobConstruct(Construct):
    def __init__(self, scope: Construct, job: WarmupJob):
        super().__init__(scope, f"job-{job.meta.name}")
        pod = {"restartPolicy": job.restart_policy, "securityContext": pod_security(job.pod_security),
               "containers": [container(job.container)], "volumes": [volume(v) for v in job.volumes],
               **pull_secrets(job.pull_secrets)}
        api_object(self, "batch/v1", "Job", job.meta,
                   spec={"backoffLimit": job.backoff_limit,
                         "template": {"metadata": {"labels": dict(job.pod_labels)}, "spec": pod}})
