"""Autoscalers, one construct per backend: an HPA, a KEDA ScaledObject, or the KEDA HTTP add-on's
HTTPScaledObject (with the Service callers use to reach its interceptor), all on the predictor Deployment.

Fixed replicas need no object, and Knative's KPA reads its metric from the InferenceService itself.
"""

from __future__ import annotations

from typing import Any, assert_never

from constructs import Construct

from ..model import Fixed, Hpa, Keda, KedaHttp, Knative, Pace, ScaleTarget, Scaling
from .base import api_object


def scaling(scope: Construct, value: Scaling) -> None:
    match value:
        case Hpa():
            hpa(scope, value)
        case Keda():
            keda(scope, value)
        case KedaHttp():
            keda_http(scope, value)
        case Fixed() | Knative():
            pass                         # KServe keeps the replicas, or Knative's KPA scales them
        case _:
            assert_never(value)


def target_ref(target: ScaleTarget) -> dict[str, Any]:
    return {"apiVersion": target.api_version, "kind": target.kind, "name": target.name}


def hpa(scope: Construct, value: Hpa) -> None:
    metric = {"type": "Pods", "pods": {"metric": {"name": value.pods_metric},
                                       "target": {"type": "AverageValue", "averageValue": value.average_value}}}
    api_object(scope, "autoscaling/v2", "HorizontalPodAutoscaler", value.meta,
               spec={"scaleTargetRef": target_ref(value.target_ref), "minReplicas": value.min_replicas,
                     "maxReplicas": value.max_replicas, "metrics": [metric],
                     "behavior": behavior(value.pace)})


def behavior(pace: Pace) -> dict[str, Any]:
    """The HPA's scale-up policy and scale-down window (KEDA hands the same to the HPA it creates)."""
    return {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": pace.scale_up_pods,
                                      "periodSeconds": pace.scale_up_period_seconds}]},
            "scaleDown": {"stabilizationWindowSeconds": pace.scale_down_window_seconds}}


def keda(scope: Construct, value: Keda) -> None:
    trigger = {"type": "prometheus", "metricType": value.metric_type, "metadata": {
        "serverAddress": value.server_address, "query": value.query, "threshold": value.threshold}}
    spec: dict[str, Any] = {
        "scaleTargetRef": target_ref(value.target_ref), "minReplicaCount": value.min_replicas,
        "maxReplicaCount": value.max_replicas, "pollingInterval": value.polling_interval_seconds,
        "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior(value.pace)}}, "triggers": [trigger]}
    if value.fallback_replicas is not None:
        spec["fallback"] = {"failureThreshold": value.fallback_failures, "replicas": value.fallback_replicas,
                            "behavior": "currentReplicasIfHigher"}
    api_object(scope, "keda.sh/v1alpha1", "ScaledObject", value.meta, spec=spec)


def keda_http(scope: Construct, value: KedaHttp) -> None:
    ref = target_ref(value.target_ref) | {"service": value.service, "port": value.service_port}
    api_object(scope, "http.keda.sh/v1alpha1", "HTTPScaledObject", value.meta,
               spec={"hosts": list(value.hosts), "scaleTargetRef": ref,
                     "replicas": {"min": value.min_replicas, "max": value.max_replicas},
                     "scaledownPeriod": value.scaledown_period_seconds,
                     "scalingMetric": {value.scaling_metric: {"targetValue": value.target_value}},
                     "timeouts": {"conditionWait": value.condition_wait, "responseHeader": value.response_header}})
    api_object(scope, "v1", "Service", value.wake.meta,
               spec={"type": "ExternalName", "externalName": value.wake.external_name,
                     "ports": [{"name": "http", "port": value.wake.port, "protocol": "TCP"}]})
