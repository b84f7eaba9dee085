"""A thin typed entry to cdk8s.ApiObject: apiVersion, kind, explicit metadata, the rest of the body."""

from __future__ import annotations

from typing import Any

from ..model import Labels

STANDARD_LABELS = ("app.kubernetes.io/managed-by", "nimgen")


def metadata(name: str, namespace: str | None = None, labels: Labels | dict = (), annotations: Labels | dict = ()) -> dict:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    labels = dict(labels)
    labels[STANDARD_LABELS[0]] = STANDARD_LABELS[1]
    meta["labels"] = labels
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def api_object(scope: Any, api_version: str, kind: str, meta: dict, **body: Any) -> Any:
    """One Kubernetes object in the chart; construct ids are kind/name, unique within a chart."""
    import cdk8s

    obj = cdk8s.ApiObject(
        scope, f"{kind}-{meta['name']}", api_version=api_version, kind=kind,
        metadata=cdk8s.ApiObjectMetadata(name=meta["name"], namespace=meta.get("namespace"),
                                         labels=meta.get("labels"), annotations=meta.get("annotations")),
    )
    for key, value in body.items():
        if value is not None:
            obj.add_json_patch(cdk8s.JsonPatch.add(f"/{key}", value))
    return obj
