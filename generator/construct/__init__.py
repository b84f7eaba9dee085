"""Stage 4, construct: cdk8s charts render the resolved model into Kubernetes objects. No decisions here.

Each output file is one model value (OutputFile): a workload, its preparation, a project, or the environment's
KAI queues. Its charts hold the objects that share a namespace (None: cluster-scoped) and labels; every part of the value is
rendered by the one construct function of its type, chosen by a `match` the type checker proves exhaustive.
cdk8s runs on Node.js through jsii, which costs half a second to start: it is imported only when something
actually needs constructing.
"""

from __future__ import annotations

import os
from typing import Any, assert_never

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


def chart(app: cdk8s.App, index: int, namespace_: str | None, labels: Labels) -> cdk8s.Chart:
    return cdk8s.Chart(app, f"c{index}", namespace=namespace_, labels=dict(labels) or None,
                       disable_resource_name_hashes=True)


def workload(app: cdk8s.App, w: Workload) -> None:
    """Every object of a workload, each from the part of the model that decides it."""
    scope = chart(app, 0, w.namespace, w.labels)
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


def preparation(app: cdk8s.App, p: Preparation) -> None:
    """A workload's objects that are applied, and finish, before its server: out/<env>/prepare/."""
    w = p.workload
    prepared(chart(app, 0, w.namespace, w.labels), w.store)


def project(app: cdk8s.App, p: Project) -> None:
    # The Namespace is cluster-scoped: a chart namespace would be stamped on it.
    namespace(chart(app, 0, None, p.labels), p.namespace_object)
    scope = chart(app, 1, p.namespace, p.labels)
    resource_quota(scope, p.quota)
    limit_range(scope, p.limits)
    default_deny(scope, p.default_deny)
    if p.waypoint is not None:
        waypoint(scope, p.waypoint)
        ingress_policy(scope, p.waypoint.ingress)


def queues(app: cdk8s.App, value: ClusterQueues) -> None:
    scope = chart(app, 0, None, ())
    for q in value.queues:
        queue(scope, q)


def output_file(app: cdk8s.App, value: OutputFile) -> None:
    match value:
        case Workload():
            workload(app, value)
        case Preparation():
            preparation(app, value)
        case Project():
            project(app, value)
        case ClusterQueues():
            queues(app, value)
        case ArgoApplications():
            application_set(chart(app, 0, value.namespace, ()), value)
        case FluxSync():
            flux_sync(chart(app, 0, value.namespace, ()), value)
        case _:
            assert_never(value)


def synthesize(files: dict[str, OutputFile]) -> dict[str, list[dict[str, Any]]]:
    """Render each file's model value; returns the objects of each file (in no particular order)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for relpath, value in sorted(files.items()):
        # An app per file: cdk8s resolves and validates the whole app on every chart's to_json, so one app for
        # every file costs time quadratic in the number of files.
        app = cdk8s.App()
        output_file(app, value)
        found[relpath] = [obj for c in app.charts for obj in c.to_json()]
    return found
