"""The NimWorkload construct: everything one InferenceWorkload becomes, in its namespace."""

from __future__ import annotations

import math
from decimal import Decimal

from constructs import Construct

from .. import quantities
from ..model import Environment, Workload
from ..resolve import NIM_CACHE_PATH
from .k8s import api_object, metadata

NIM_PORT = 8000
NIM_UID = 1000  # NVIDIA's images run as uid 1000; fsGroup makes mounted volumes writable for it
ISVC_LABEL = "serving.kserve.io/inferenceservice"
URI_MOUNT = "/mnt/models"


def expressions(exprs) -> list[dict]:
    out = []
    for key, operator, values in exprs:
        expr = {"key": key, "operator": operator}
        if values:
            expr["values"] = list(values)
        out.append(expr)
    return out


def quantity_of(number: float) -> str:
    """A metric target as a Kubernetes quantity: 8.0 -> '8', 0.5 -> '500m'."""
    value = Decimal(str(number))
    if value == value.to_integral_value():
        return str(int(value))
    return f"{int(value * 1000)}m"


def plain_number(number: float) -> str:
    """KEDA parses thresholds as floats, not quantities: 8.0 -> '8', 0.5 -> '0.5'."""
    return f"{number:g}"


def kserve_at_least(version: str, minimum: tuple[int, int]) -> bool:
    return tuple(int(x) for x in version.split(".")[:2]) >= minimum


class NimWorkload(Construct):
    def __init__(self, scope: Construct, env: Environment, w: Workload):
        super().__init__(scope, w.name)
        self.env, self.w = env, w
        labels = dict(w.labels)
        labels.update({"app.kubernetes.io/name": w.name, "app.kubernetes.io/component": "inference",
                       "nimgen.dev/project": w.project.name})
        self.labels = labels
        if w.store.cache and w.store.cache.create:
            self.cache_pvc()
        if w.store.cache and w.store.cache.warmup:
            self.warmup_job()
        self.inference_service()
        if w.scaling.backend == "hpa":
            self.hpa()
        elif w.scaling.backend == "keda":
            self.scaled_object()
        if w.scaling.min_replicas >= 2:
            self.pdb()
        self.network_policy()
        if w.access.type in ("authenticated", "groups", "users"):
            self.istio_auth()

    def meta(self, name: str, annotations=()) -> dict:
        return metadata(name, self.w.namespace, self.labels, annotations)

    # -- storage
    def cache_pvc(self) -> None:
        cache = self.w.store.cache
        api_object(self, "v1", "PersistentVolumeClaim", self.meta(cache.claim, {"nimgen.dev/data-source": cache.data_source}),
                   spec={"accessModes": [cache.access_mode], "storageClassName": cache.storage_class,
                         "resources": {"requests": {"storage": cache.size}}})

    def warmup_job(self) -> None:
        """Fill the cache PVC once (download-to-cache), so replicas start warm instead of each downloading."""
        w = self.w
        env = [e for e in self.nim_env() if e["name"] in ("NGC_API_KEY", "NIM_CACHE_PATH")]
        pod = {
            "restartPolicy": "OnFailure",
            "securityContext": {"runAsNonRoot": True, "runAsUser": NIM_UID, "runAsGroup": NIM_UID, "fsGroup": NIM_UID},
            "containers": [{
                "name": "download-to-cache", "image": w.image,
                "command": ["download-to-cache", "--profile", w.profile.pin],
                "env": env,
                "resources": {"requests": {"cpu": "1", "memory": "4Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "nim-cache", "mountPath": NIM_CACHE_PATH}],
            }],
            "volumes": [{"name": "nim-cache", "persistentVolumeClaim": {"claimName": w.store.cache.claim}}],
        }
        if w.pull_secrets:
            pod["imagePullSecrets"] = [{"name": s} for s in w.pull_secrets]
        api_object(self, "batch/v1", "Job", self.meta(f"{w.name}-cache-warmup"),
                   spec={"backoffLimit": 3, "template": {"metadata": {"labels": dict(self.labels)}, "spec": pod}})

    def nim_env(self) -> list[dict]:
        w = self.w
        env = [{"name": "NIM_MODEL_PROFILE", "value": w.profile.pin}]
        if w.store.kind == "uri":
            env.append({"name": "NIM_CACHE_PATH", "value": URI_MOUNT})
        else:
            env.append({"name": "NIM_CACHE_PATH", "value": NIM_CACHE_PATH})
        if w.store.kind == "ngc":
            env.append({"name": "NGC_API_KEY",
                        "valueFrom": {"secretKeyRef": {"name": w.store.secret, "key": w.store.secret_key}}})
        if w.store.kind == "uri" and w.store.uri.startswith("hf://"):
            env.append({"name": "NIM_MODEL_NAME", "value": URI_MOUNT})
        if not kserve_at_least(self.env.kserve_version, (0, 16)) and w.store.kind == "uri":
            env.append({"name": "STORAGE_URI", "value": w.store.uri})
        return env

    def volumes(self) -> tuple[list[dict], list[dict]]:
        w = self.w
        volumes = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": w.compute.shared_memory}}]
        mounts = [{"name": "dshm", "mountPath": "/dev/shm"}]
        if w.store.kind == "ngc":
            if w.store.cache:
                volumes.append({"name": "nim-cache", "persistentVolumeClaim": {"claimName": w.store.cache.claim}})
            else:
                volumes.append({"name": "nim-cache", "emptyDir": {}})
            mounts.append({"name": "nim-cache", "mountPath": NIM_CACHE_PATH})
        elif w.store.kind == "pvc":
            volumes.append({"name": "nim-cache", "persistentVolumeClaim": {"claimName": w.store.claim, "readOnly": True}})
            mount = {"name": "nim-cache", "mountPath": NIM_CACHE_PATH, "readOnly": True}
            if w.store.sub_path:
                mount["subPath"] = w.store.sub_path
            mounts.append(mount)
        return volumes, mounts

    def resources(self) -> dict:
        c = self.w.compute
        amounts = {"cpu": c.cpu, "memory": c.memory, c.gpu_resource: str(c.gpus if c.gpu_resource == "nvidia.com/gpu" else 1)}
        # requests == limits: extended resources demand it, and Guaranteed QoS keeps the model from eviction
        return {"requests": dict(amounts), "limits": dict(amounts)}

    def container(self) -> dict:
        volumes, mounts = self.volumes()
        probe = lambda path, period, failures: {  # noqa: E731
            "httpGet": {"path": path, "port": NIM_PORT}, "periodSeconds": period, "failureThreshold": failures,
            "timeoutSeconds": 5}
        return {
            "name": "kserve-container",
            "image": self.w.image,
            "ports": [{"containerPort": NIM_PORT, "name": "http", "protocol": "TCP"}],
            "env": self.nim_env(),
            "resources": self.resources(),
            "livenessProbe": probe("/v1/health/live", 10, 3),
            "readinessProbe": probe("/v1/health/ready", 10, 3),
            # model download and engine load can take many minutes: up to 30 min before liveness takes over
            "startupProbe": probe("/v1/health/ready", 10, 180),
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": mounts,
        }, volumes

    def inference_service(self) -> None:
        w, env = self.w, self.env
        container, volumes = self.container()
        annotations = dict(w.annotations)
        annotations["serving.kserve.io/deploymentMode"] = env.deployment_mode
        if w.scaling.backend != "knative":  # Knative mode autoscales with its own KPA by default
            annotations["serving.kserve.io/autoscalerClass"] = {"hpa": "external", "keda": "external",
                                                                 "none": "none"}[w.scaling.backend]
        annotations["nimgen.dev/profile"] = f"{w.profile.profile.name if w.profile.profile else w.profile.pin} ({w.profile.mode})"
        if w.model:
            annotations["nimgen.dev/model"] = f"{w.model}:{w.model_version}"
        predictor: dict = {
            "minReplicas": w.scaling.min_replicas,
            "maxReplicas": w.scaling.max_replicas,
        }
        if w.scaling.backend == "knative" and w.scaling.metric:
            predictor["scaleMetric"] = {"concurrency": "concurrency", "throughput": "rps", "latency": "concurrency"}[w.scaling.metric]
            predictor["scaleTarget"] = max(1, math.ceil(w.scaling.target))
        p = w.placement
        if p.queue:
            predictor["labels"] = {"kai.scheduler/queue": p.queue}
        if p.scheduler_name:
            predictor["schedulerName"] = p.scheduler_name
        if p.priority_class:
            predictor["priorityClassName"] = p.priority_class
        affinity: dict = {}
        if p.required:
            affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
                "nodeSelectorTerms": [{"matchExpressions": expressions(p.required)}]}
        if p.preferred:
            affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": weight, "preference": {"matchExpressions": expressions(exprs)}} for weight, exprs in p.preferred]
        if affinity:
            predictor["affinity"] = {"nodeAffinity": affinity}
        if p.tolerations:
            predictor["tolerations"] = [
                {k: v for k, v in (("key", t.key), ("operator", t.operator), ("value", t.value), ("effect", t.effect),
                                   ("tolerationSeconds", t.toleration_seconds)) if v is not None}
                for t in p.tolerations]
        if w.pull_secrets:
            predictor["imagePullSecrets"] = [{"name": s} for s in w.pull_secrets]
        predictor["securityContext"] = {"runAsNonRoot": True, "runAsUser": NIM_UID, "runAsGroup": NIM_UID, "fsGroup": NIM_UID}
        if w.store.kind == "uri" and kserve_at_least(env.kserve_version, (0, 16)):
            predictor["storageUris"] = [{"uri": w.store.uri, "mountPath": URI_MOUNT}]
        predictor["containers"] = [container]
        predictor["volumes"] = volumes
        api_object(self, "serving.kserve.io/v1beta1", "InferenceService", self.meta(w.name, annotations),
                   spec={"predictor": predictor})

    # -- scaling
    def scale_target(self) -> dict:
        # KServe (Standard mode) names the predictor Deployment <isvc>-predictor
        return {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{self.w.name}-predictor"}

    def hpa(self) -> None:
        s = self.w.scaling
        metric = {"type": "Pods", "pods": {"metric": {"name": s.pods_metric},
                                           "target": {"type": "AverageValue", "averageValue": quantity_of(s.target)}}}
        api_object(self, "autoscaling/v2", "HorizontalPodAutoscaler", self.meta(self.w.name),
                   spec={"scaleTargetRef": self.scale_target(), "minReplicas": s.min_replicas, "maxReplicas": s.max_replicas,
                         "metrics": [metric],
                         # a NIM replica takes minutes to become ready: scale down slowly to avoid flapping
                         "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600}}})

    def scaled_object(self) -> None:
        s = self.w.scaling
        spec = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"{self.w.name}-predictor"},
                "minReplicaCount": s.min_replicas, "maxReplicaCount": s.max_replicas, "pollingInterval": 15,
                "triggers": [{"type": "prometheus", "metadata": {"serverAddress": s.prometheus_address,
                                                                 "query": s.query, "threshold": plain_number(s.target)}}]}
        if s.scale_to_zero_after is not None:
            spec["cooldownPeriod"] = s.scale_to_zero_after  # KEDA applies it only to the last replica
        api_object(self, "keda.sh/v1alpha1", "ScaledObject", self.meta(self.w.name), spec=spec)

    def pdb(self) -> None:
        api_object(self, "policy/v1", "PodDisruptionBudget", self.meta(self.w.name),
                   spec={"maxUnavailable": 1, "selector": {"matchLabels": {ISVC_LABEL: self.w.name}}})

    # -- access
    def network_policy(self) -> None:
        w, env = self.w, self.env
        peers = [("project", w.namespace), ("monitoring", env.monitoring_namespace)]
        if w.access.type != "clusterLocal":
            peers.append(("gateway", env.gateway_namespace))
        ingress = [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}],
                    "ports": [{"port": NIM_PORT, "protocol": "TCP"}]} for _, ns in peers]
        api_object(self, "networking.k8s.io/v1", "NetworkPolicy", self.meta(f"{w.name}-ingress"),
                   spec={"podSelector": {"matchLabels": {ISVC_LABEL: w.name}}, "policyTypes": ["Ingress"], "ingress": ingress})

    def istio_auth(self) -> None:
        """A RequestAuthentication alone lets token-less requests through: the ALLOW policy requires a token."""
        w, identity = self.w, self.env.identity
        selector = {"matchLabels": {ISVC_LABEL: w.name}}
        rule = {"issuer": identity.issuer, "jwksUri": identity.jwks_uri}
        if identity.audiences:
            rule["audiences"] = list(identity.audiences)
        api_object(self, "security.istio.io/v1", "RequestAuthentication", self.meta(f"{w.name}-jwt"),
                   spec={"selector": selector, "jwtRules": [rule]})
        caller: dict = {"from": [{"source": {"requestPrincipals": ["*"]}}]}
        if w.access.type == "groups":
            caller["when"] = [{"key": f"request.auth.claims[{identity.groups_claim}]", "values": list(w.access.groups)}]
        elif w.access.type == "users":
            caller["when"] = [{"key": f"request.auth.claims[{identity.user_claim}]", "values": list(w.access.users)}]
        scrape = {"from": [{"source": {"namespaces": [self.env.monitoring_namespace]}}],
                  "to": [{"operation": {"methods": ["GET"], "paths": ["/v1/metrics"]}}]}
        api_object(self, "security.istio.io/v1", "AuthorizationPolicy", self.meta(f"{w.name}-access"),
                   spec={"selector": selector, "action": "ALLOW", "rules": [caller, scrape]})
