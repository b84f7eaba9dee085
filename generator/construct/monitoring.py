"""The PodMonitor through which Prometheus (prometheus-operator) scrapes a workload's NIM metrics."""

from __future__ import annotations

from constructs import Construct

from ..model import Scrape
from .base import api_object, match_labels


def prometheus_label(pod_label: str) -> str:
    """The meta label Prometheus' Kubernetes discovery gives a pod label (non-alphanumerics become _)."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in pod_label)


def scrape(scope: Construct, value: Scrape) -> None:
    relabel = [{"sourceLabels": [prometheus_label(pod)], "targetLabel": series, "action": "replace"}
               for pod, series in value.series_labels]
    api_object(scope, "monitoring.coreos.com/v1", "PodMonitor", value.meta,
               spec={"selector": match_labels(value.selector),
                     "podMetricsEndpoints": [{"port": value.port, "path": value.path, "relabelings": relabel}]})
