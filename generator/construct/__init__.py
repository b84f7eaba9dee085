"""Stage 4, construct: cdk8s constructs build the Kubernetes objects of the resolved model. No decisions here.

cdk8s runs on Node.js through jsii, which costs half a second to start: it is imported only when something
actually needs constructing (the build cache answers for everything unchanged).
"""

from __future__ import annotations

import os
from typing import Any, Callable

# jsii prints a banner on Node 20 unless told it is expected; set before the runtime starts.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def synthesize(builders: dict[str, Callable[[Any], None]]) -> dict[str, list[dict]]:
    """Run each builder in a chart of its own; returns the objects of each chart by output file."""
    import cdk8s

    app = cdk8s.App()
    charts = {}
    for i, (relpath, build) in enumerate(sorted(builders.items())):
        chart = cdk8s.Chart(app, f"c{i}", disable_resource_name_hashes=True)
        build(chart)
        charts[relpath] = chart
    return {relpath: list(chart.to_json()) for relpath, chart in charts.items()}
