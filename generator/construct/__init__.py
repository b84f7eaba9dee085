"""Stage 4, construct: cdk8s charts render the resolved model into Kubernetes objects. No decisions here.

Each output file is one model value (OutputFile): a workload, its preparation, a project, or the environment's
KAI queues. Its charts hold the objects that share a namespace (None: cluster-scoped) and labels; every part of the value is
rendered by the one construct function of its type, chosen by a `match` the type checker proves exhaustive.
cdk8s runs on Node.js through jsii, which costs half a second to start: it is imported only when something
actually needs constructing.
"""

from __future__ import annotations

import os
from typing import Any, Sequence, assert_never

# jsii prints a banner on Node 20 unless told it is expected: set before anything below starts the runtime.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import cdk8s  # noqa: E402

from ..model import ArgoApplications, ClusterQueues, FluxSync, Labels, OutputFile, Preparation, Project, Workload  # noqa: E402
from .autoscaling import scaling  # noqa: E402
from .disruption import disruption_budget  # noqa: E402
from .gitops import application_set, flux_sync  # noqa: E402
from .inference_service import inference_service  # noqa: E402
from .mesh_policy import access, peer_policy  # noqa: E402
from .monitoring import scrape  # noqa: E402
from .network_policy import ingress_policy  # noqa: E402
from .project import default_deny, limit_range, namespace, resource_quota, waypoint  # noqa: E402
from .queues import queue  # noqa: E402
from .storage import prepared, store  # noqa: E402


# Files rendered in one cdk8s App: an App per file costs a jsii round trip more per file, one App for every file
# costs time quadratic in the number of files (each chart's to_json resolves and validates the whole App).
FILES_PER_APP = 16


class Charts:
    """Makes the charts of one output file, in an App it may share with other files, and remembers them: the
    objects of the file are those of its charts."""

    def __init__(self, app: cdk8s.App, file: int) -> None:
        self.app, self.file, self.made = app, file, list[cdk8s.Chart]()

    def __call__(self, namespace_: str | None, labels: Labels) -> cdk8s.Chart:
        made = cdk8s.Chart(self.app, f"f{self.file}c{len(self.made)}", namespace=namespace_,
                           labels=dict(labels) or None, disable_resource_name_hashes=True)
        self.made.append(made)
        return made


def workload(chart: Charts, w: Workload) -> None:
    """Every object of a workload, each from the part of the model that decides it."""
    scope = chart(w.namespace, w.labels)
    inference_service(scope, w.service)
    store(scope, w.store)
    scaling(scope, w.scaling)
    ingress_policy(scope, w.ingress)
    scrape(scope, w.scrape)
    access(scope, w.access)
    if w.peer is not None:
        peer_policy(scope, w.peer)
    if w.disruption is not None:
        disruption_budget(scope, w.disruption)


def preparation(chart: Charts, p: Preparation) -> None:
    """A workload's objects that are applied, and finish, before its server: out/<env>/prepare/."""
    w = p.workload
    prepared(chart(w.namespace, w.labels), w.store)


def project(chart: Charts, p: Project) -> None:
    # The Namespace is cluster-scoped: a chart namespace would be stamped on it.
    namespace(chart(None, p.labels), p.namespace_object)
    scope = chart(p.namespace, p.labels)
    resource_quota(scope, p.quota)
    limit_range(scope, p.limits)
    default_deny(scope, p.default_deny)
    if p.waypoint is not None:
        waypoint(scope, p.waypoint)
        ingress_policy(scope, p.waypoint.ingress)


def queues(chart: Charts, value: ClusterQueues) -> None:
    scope = chart(None, ())
    for q in value.queues:
        queue(scope, q)


def output_file(chart: Charts, value: OutputFile) -> None:
    match value:
        case Workload():
            workload(chart, value)
        case Preparation():
            preparation(chart, value)
        case Project():
            project(chart, value)
        case ClusterQueues():
            queues(chart, value)
        case ArgoApplications():
            application_set(chart(value.namespace, ()), value)
        case FluxSync():
            flux_sync(chart(value.namespace, ()), value)
        case _:
            assert_never(value)


def synthesize(values: Sequence[OutputFile]) -> list[list[dict[str, Any]]]:
    """Render each file's model value; returns the objects of each file (in no particular order), in the order of
    `values`."""
    found: list[list[dict[str, Any]]] = []
    for start in range(0, len(values), FILES_PER_APP):
        app = cdk8s.App()
        for file, value in enumerate(values[start:start + FILES_PER_APP]):
            charts = Charts(app, file)
            output_file(charts, value)
            found.append([obj for c in charts.made for obj in c.to_json()])
    return found
