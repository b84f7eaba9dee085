"""Autoscalers, one construct per backend: an HPA, a KEDA ScaledObject, or the KEDA HTTP add-on's
HTTPScaledObject (with the Service callers use to reach its interceptor), all on the predictor Deployment.

Fixed replicas need no object, and Knative's KPA reads its metric from the InferenceService itself.
"""

from __future__ import annotations

from constructs import Construct

from ..model import Fixed, Hpa, Keda, KedaHttp, Knative, ScaleTarget
from .base import api_object
from .registry import renders, renders_nothing

renders_nothing(Fixed, Knative)


def target_ref(target: ScaleTarget) -> dict:
    return {"apiVersion": target.api_version, "kind": target.kind, "name": target.name}


@renders(Hpa)
class HpaConstruct(Construct):
    def __init__(self, scope: Construct, hpa: Hpa):
        super().__init__(scope, "hpa")
        metric = {"type": "Pods", "pods": {"metric": {"name": hpa.pods_metric},
                                           "target": {"type": "AverageValue", "averageValue": hpa.average_value}}}
        api_object(self, "autoscaling/v2", "HorizontalPodAutoscaler", hpa.meta,
                   spec={"scaleTargetRef": target_ref(hpa.target_ref), "minReplicas": hpa.min_replicas,
                         "maxReplicas": hpa.max_replicas, "metrics": [metric],
                         "behavior": {"scaleDown": {"stabilizationWindowSeconds": hpa.scale_down_window_seconds}}})


@renders(Keda)
class KedaConstruct(Construct):
    def __init__(self, scope: Construct, keda: Keda):
        super().__init__(scope, "keda")
        trigger = {"type": "prometheus", "metricType": keda.metric_type, "metadata": {
            "serverAddress": keda.server_address, "query": keda.query, "threshold": keda.threshold}}
        api_object(self, "keda.sh/v1alpha1", "ScaledObject", keda.meta,
                   spec={"scaleTargetRef": target_ref(keda.target_ref), "minReplicaCount": keda.min_replicas,
                         "maxReplicaCount": keda.max_replicas, "pollingInterval": keda.polling_interval_seconds,
                         "triggers": [trigger]})


@renders(KedaHttp)
class KedaHttpConstruct(Construct):
    def __init__(self, scope: Construct, http: KedaHttp):
        super().__init__(scope, "keda-http")
        ref = target_ref(http.target_ref) | {"service": http.service, "port": http.service_port}
        api_object(self, "http.keda.sh/v1alpha1", "HTTPScaledObject", http.meta,
                   spec={"hosts": list(http.hosts), "scaleTargetRef": ref,
                         "replicas": {"min": http.min_replicas, "max": http.max_replicas},
                         "scaledownPeriod": http.scaledown_period_seconds,
                         "scalingMetric": {http.scaling_metric: {"targetValue": http.target_value}},
                         "timeouts": {"conditionWait": http.condition_wait, "responseHeader": http.response_header}})
        api_object(self, "v1", "Service", http.wake.meta,
                   spec={"type": "ExternalName", "externalName": http.wake.external_name,
                         "ports": [{"name": "http", "port": http.wake.port, "protocol": "TCP"}]})
