"""Monitoring: how Prometheus scrapes NIM's metrics, and the rule that autoscaler queries select series that
scrape actually produces.

Scraping is a prometheus-operator PodMonitor per workload, selecting the predictor pods and scraping NIM's
/v1/metrics on its port (by the name the port has in the running pod: Knative renames it). It copies the pod label serving.kserve.io/inferenceservice into each series as
`inferenceservice`, so a query selects one workload with `inferenceservice="{name}"`. A `service` label exists
only on series a ServiceMonitor scrapes; a query on it would match nothing, and its autoscaler would never move.
"""

from __future__ import annotations

import re

from ..diagnostics import Diagnostic
from ..inputs.load import Document
from ..model import DeploymentMode, Environment, Meta, Scrape
from . import naming, nim

# The labels every series of nimgen's PodMonitor carries (prometheus-operator adds namespace, pod, container,
# endpoint, job and instance to pod targets) plus the one it copies from the pod.
SERIES_TARGET_LABELS = frozenset({"namespace", "pod", "container", "endpoint", "job", "instance",
                                  naming.SERIES_WORKLOAD_LABEL})
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def scrape(workload: str, env: Environment, mode: DeploymentMode) -> Scrape:
    return Scrape(Meta(naming.pod_monitor(workload), labels=env.scrape_labels), naming.pod_selector(workload),
                  nim.running_port_name(mode), nim.METRICS_PATH, ((naming.ISVC_POD_LABEL, naming.SERIES_WORKLOAD_LABEL),))


def query_problems(doc: Document, env: Environment) -> list[Diagnostic]:
    """Each metric query must pick out one workload by a label nimgen's scrape puts on the series."""
    problems = []
    for name, source in env.metrics:
        if not source.query:
            continue
        path = ("spec", "autoscaling", "metrics", name, "query")
        labels = {label for label, _, value in _MATCHER.findall(source.query) if "{name}" in value}
        if not labels:
            problems.append(doc.diagnostic(path, f"the {name} query does not select the workload",
                                           f'match the workload with {naming.SERIES_WORKLOAD_LABEL}="{{name}}"'))
        for label in sorted(labels - SERIES_TARGET_LABELS):
            problems.append(doc.diagnostic(
                path, f"the {name} query selects the workload by label '{label}', which the scraped series do not carry",
                f'nimgen\'s PodMonitor labels each series {naming.SERIES_WORKLOAD_LABEL}="<workload>" '
                f'(and namespace, pod): write {naming.SERIES_WORKLOAD_LABEL}="{{name}}"'))
    return problems
