"""The PodMonitor through which Prometheus (prometheus-operator) scrapes a workload's NIM metrics."""

from __future__ import annotations

from constructs import Construct

from ..model import Scrape
from .base import api_object, match_labels
from .registry import renders


def prometheus_label(pod_label: str) -> str:
    """The meta label Prometheus' Kubernetes discovery gives a pod label (non-alphanumerics become _)."""
    return "__meta_kubernetes_pod_label_" + "".join(c if c.isalnum() else "_" for c in pod_label)


@renders(Scrape)
class ScrapeConstruct(Construct):
    def __init__(self, scope: Construct, scrape: Scrape):
        super().__init__(scope, "scrape")
        relabel = [{"sourceLabels": [prometheus_label(pod)], "targetLabel": series, "action": "replace"}
                   for pod, series in scrape.series_labels]
        api_object(self, "monitoring.coreos.com/v1", "PodMonitor", scrape.meta,
                   spec={"selector": match_labels(scrape.selector),
                         "podMetricsEndpoints": [{"port": scrape.port, "path": scrape.path, "relabelings": relabel}]})
