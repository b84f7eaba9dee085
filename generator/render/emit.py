"""Stage 5, emit: deterministic YAML text (output/commit.py switches a verified tree into out/).

Same objects -> same bytes: keys in a fixed order (apiVersion, kind, metadata, then name-like keys, then the
rest sorted), documents in the order given, LF endings, a trailing newline, strings YAML 1.1 would misread
quoted (PyYAML's resolver is YAML 1.1, so it quotes 'yes', 'on', '1.10' and the like by itself).
"""

from __future__ import annotations

from typing import Any

import yaml

Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
FIRST_KEYS = ("apiVersion", "kind", "metadata", "name", "namespace")
KIND_ORDER = ("Namespace", "ResourceQuota", "LimitRange", "Queue", "PersistentVolumeClaim", "Job", "InferenceService",
              "HorizontalPodAutoscaler", "ScaledObject", "PodDisruptionBudget", "NetworkPolicy",
              "RequestAuthentication", "AuthorizationPolicy")


class _Dumper(Dumper):  # type: ignore[misc,valid-type]
    """The fast dumper, writing a multi-line string as a literal block (an ApplicationSet's templatePatch) so a
    reviewer reads it as written."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _string)


def ordered(value: Any) -> Any:
    if isinstance(value, dict):
        first = [k for k in FIRST_KEYS if k in value]
        rest = sorted(k for k in value if k not in FIRST_KEYS)
        return {k: ordered(value[k]) for k in first + rest}
    if isinstance(value, list):
        return [ordered(v) for v in value]
    return value


def sort_objects(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return sorted(objects, key=lambda o: (rank.get(o["kind"], len(rank)), o["kind"], o["metadata"]["name"]))


def dump(data: Any) -> str:
    return yaml.dump(ordered(data), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=4096, line_break="\n")


def render_manifests(objects: list[dict[str, Any]], header: str) -> str:
    """A multi-document manifest file: a comment header, then each object after '---'."""
    body = "".join("---\n" + dump(obj) for obj in sort_objects(objects))
    return header + body
