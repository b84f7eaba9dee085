"""The KServe InferenceService of a workload: the predictor pod running the NIM container."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from ..model import InferenceService, Toleration
from .base import api_object, container, expressions, pod_security, pull_secrets, volume


def toleration(t: Toleration) -> dict[str, Any]:
    fields = (("key", t.key), ("operator", t.operator), ("value", t.value), ("effect", t.effect),
              ("tolerationSeconds", t.toleration_seconds))
    return {k: v for k, v in fields if v is not None}


def inference_service(scope: Construct, isvc: InferenceService) -> None:
    p = isvc.placement
    predictor: dict[str, Any] = {"minReplicas": isvc.min_replicas, "maxReplicas": isvc.max_replicas}
    if isvc.scale_metric is not None:
        predictor["scaleMetric"] = isvc.scale_metric
        predictor["scaleTarget"] = isvc.scale_target
    if isvc.request_timeout_seconds is not None:
        predictor["timeout"] = isvc.request_timeout_seconds
    if isvc.pod_labels:
        predictor["labels"] = dict(isvc.pod_labels)
    if isvc.pod_annotations:
        predictor["annotations"] = dict(isvc.pod_annotations)
    if isvc.service_account:
        predictor["serviceAccountName"] = isvc.service_account
    if not isvc.service_account_token:
        predictor["automountServiceAccountToken"] = False
    if isvc.rollout is not None:
        predictor["deploymentStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {
            "maxSurge": isvc.rollout.max_surge, "maxUnavailable": isvc.rollout.max_unavailable}}
    if p.scheduler_name:
        predictor["schedulerName"] = p.scheduler_name
    if p.priority_class:
        predictor["priorityClassName"] = p.priority_class
    affinity: dict[str, Any] = {}
    if p.required:
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {
            "nodeSelectorTerms": [{"matchExpressions": expressions(p.required)}]}
    if p.preferred:
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": term.weight, "preference": {"matchExpressions": expressions(term.expressions)}}
            for term in p.preferred]
    if affinity:
        predictor["affinity"] = {"nodeAffinity": affinity}
    if p.tolerations:
        predictor["tolerations"] = [toleration(t) for t in p.tolerations]
    if p.spread is not None:
        constraint: dict[str, Any] = {
            "maxSkew": 1, "topologyKey": p.spread.topology_key,
            "whenUnsatisfiable": "DoNotSchedule" if p.spread.required else "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(p.spread.selector)}}
        if p.spread.match_label_keys:
            constraint["matchLabelKeys"] = list(p.spread.match_label_keys)
        predictor["topologySpreadConstraints"] = [constraint]
    predictor.update(pull_secrets(isvc.pull_secrets))
    predictor["securityContext"] = pod_security(isvc.pod_security)
    if isvc.storage_uris:
        predictor["storageUris"] = [{"uri": u.uri, "mountPath": u.mount_path} for u in isvc.storage_uris]
    predictor["containers"] = [container(isvc.container)]
    predictor["volumes"] = [volume(v) for v in isvc.volumes]
    api_object(scope, "serving.kserve.io/v1beta1", "InferenceService", isvc.meta, spec={"predictor": predictor})
