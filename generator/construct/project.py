"""The project constructs: a project's namespace and guard rails, and the cluster-scoped KAI queues."""

from __future__ import annotations

from constructs import Construct

from .. import quantities
from ..model import Environment, Project
from .k8s import api_object, metadata


class ProjectResources(Construct):
    def __init__(self, scope: Construct, env: Environment, project: Project):
        super().__init__(scope, project.name)
        ns, labels = project.namespace, dict(project.labels)
        labels["nimgen.dev/project"] = project.name
        api_object(self, "v1", "Namespace", metadata(ns, None, labels))
        hard = {"requests.nvidia.com/gpu": str(project.quota_gpus if project.gpu_limit in (None, -1) else max(project.gpu_limit, project.quota_gpus)),
                "count/inferenceservices.serving.kserve.io": str(project.quota_workloads) if project.quota_workloads is not None else None}
        if project.quota_cpu:
            hard["requests.cpu"] = project.quota_cpu
        if project.quota_memory:
            hard["requests.memory"] = project.quota_memory
        api_object(self, "v1", "ResourceQuota", metadata(f"{project.name}-quota", ns, labels),
                   spec={"hard": {k: v for k, v in hard.items() if v is not None}})
        # defaults for containers that declare nothing (sidecars, debug pods); NIM containers are explicit
        api_object(self, "v1", "LimitRange", metadata(f"{project.name}-defaults", ns, labels),
                   spec={"limits": [{"type": "Container", "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                                     "default": {"cpu": "1", "memory": "512Mi"}}]})
        api_object(self, "networking.k8s.io/v1", "NetworkPolicy", metadata("default-deny-ingress", ns, labels),
                   spec={"podSelector": {}, "policyTypes": ["Ingress"]})


class KaiQueues(Construct):
    """One KAI Queue per project: GPU quota, over-quota weight and limit; cpu in millicores, memory in MB."""

    def __init__(self, scope: Construct, env: Environment, projects: tuple[Project, ...]):
        super().__init__(scope, "queues")
        for project in projects:
            limit = project.gpu_limit if project.gpu_limit is not None else project.quota_gpus
            resources = {"gpu": {"quota": project.quota_gpus, "limit": limit, "overQuotaWeight": project.over_quota_weight}}
            resources["cpu"] = {"quota": quantities.millicores(project.quota_cpu) if project.quota_cpu else -1,
                                "limit": -1, "overQuotaWeight": project.over_quota_weight}
            resources["memory"] = {"quota": quantities.megabytes(project.quota_memory) if project.quota_memory else -1,
                                   "limit": -1, "overQuotaWeight": project.over_quota_weight}
            labels = dict(project.labels)
            labels["nimgen.dev/project"] = project.name
            api_object(self, "scheduling.run.ai/v2", "Queue", metadata(project.name, None, labels),
                       spec={"displayName": project.name, "resources": resources})
