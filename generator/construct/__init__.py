"""Stage 4, construct: cdk8s charts render the resolved model into Kubernetes objects. No decisions here.

A chart holds the objects of one output file that share a namespace (None: cluster-scoped) and labels; each
model part in it is rendered by the construct registered for its type. cdk8s runs on Node.js through jsii, which
costs half a second to start: it is imported only when something actually needs constructing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

# jsii prints a banner on Node 20 unless told it is expected: set before anything below starts the runtime.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from ..model import Labels, Project, Queue, Workload  # noqa: E402
# Importing the construct modules registers them for the model types they render.
from . import (autoscaling, disruption, inference_service, mesh_policy, monitoring, network_policy, project,  # noqa: F401,E402
               queues, storage)
from .registry import render  # noqa: E402


@dataclass(frozen=True)
class ChartSpec:
    namespace: str | None
    labels: Labels
    parts: tuple[Any, ...]


def workload_charts(w: Workload) -> tuple[ChartSpec, ...]:
    return (ChartSpec(w.namespace, w.labels, w.parts),)


def project_charts(p: Project) -> tuple[ChartSpec, ...]:
    # The Namespace is cluster-scoped: a chart namespace would be stamped on it.
    return (ChartSpec(None, p.labels, (p.namespace_object,)), ChartSpec(p.namespace, p.labels, p.parts))


def queue_charts(queues_: tuple[Queue, ...]) -> tuple[ChartSpec, ...]:
    return (ChartSpec(None, (), queues_),)


def synthesize(files: dict[str, tuple[ChartSpec, ...]]) -> dict[str, list[dict]]:
    """Render each file's charts; returns the objects of each file (in no particular order)."""
    import cdk8s

    charts: dict[str, list[Any]] = {}
    for relpath, specs in sorted(files.items()):
        # An app per file: cdk8s resolves and validates the whole app on every chart's to_json, so one app for
        # every file costs time quadratic in the number of files.
        app = cdk8s.App()
        for j, spec in enumerate(specs):
            chart = cdk8s.Chart(app, f"c{j}", namespace=spec.namespace, labels=dict(spec.labels) or None,
                                disable_resource_name_hashes=True)
            for part in spec.parts:
                render(chart, part)
            charts.setdefault(relpath, []).append(chart)
    return {relpath: [obj for chart in found for obj in chart.to_json()] for relpath, found in charts.items()}
