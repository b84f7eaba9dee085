"""Autoscalers, one construct per backend: an HPA or a KEDA ScaledObject on the predictor Deployment.

Fixed replicas need no object, and Knative's KPA reads its metric from the InferenceService itself.
"""

from __future__ import annotations

from constructs import Construct

from ..model import Fixed, Hpa, Keda, Knative, ScaleTarget
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
        spec: dict = {"scaleTargetRef": target_ref(keda.target_ref), "minReplicaCount": keda.min_replicas,
                      "maxReplicaCount": keda.max_replicas, "pollingInterval": keda.polling_interval_seconds,
                      "triggers": [{"type": "prometheus", "metadata": {
                          "serverAddress": keda.server_address, "query": keda.query, "threshold": keda.threshold}}]}
        if keda.cooldown_seconds is not None:
            spec["cooldownPeriod"] = keda.cooldown_seconds
        api_object(self, "keda.sh/v1alpha1", "ScaledObject", keda.meta, spec=spec)
