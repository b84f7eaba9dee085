"""CustomResourceDefinitions -> JSON Schemas in kubeconform's layout, {group}/{kind}_{version}.json, the way
kubeconform's scripts/openapi2jsonschema.py converts them, so that `nimgen verify --schema-location` can check
out/ against the CRDs a cluster really runs (`kubectl get crd -o yaml | nimgen crd-schemas --out DIR`).

The rules of openapi2jsonschema: the `openAPIV3Schema` of each version (of `spec.validation` in the old
apiextensions v1beta1 form), `additionalProperties: false` added to every object schema below the root that
declares `properties` and no additionalProperties of its own (the walk follows mapping values, not lists such as
`anyOf`), and a schema of `format: int-or-string` replaced by `oneOf: [string, integer]`. Versions that are not
served are skipped (the API server rejects their objects anyway).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar, overload

import yaml

from .diagnostics import WARNING, Diagnostic, json_path

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_T = TypeVar("_T")
YamlPath: TypeAlias = tuple[str | int, ...]   # ('items', 0, 'spec', 'versions', 1)


class CrdLoader(_Loader):  # type: ignore[misc, valid-type]
    """A safe loader that reads a bare `=` as the string it is to Kubernetes (PyYAML's `value` tag, yaml#89)."""


CrdLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: str(node.value))

INT_OR_STRING = {"oneOf": [{"type": "string"}, {"type": "integer"}]}


@dataclass
class Converted:
    """Schemas by output path ({group}/{kind}_{version}.json) and what was skipped or wrong, as diagnostics."""

    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    crds: int = 0


def schema_text(schema: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def deny_additional_properties(schema: _T, root: bool = True) -> _T:
    """openapi2jsonschema's additional_properties(): in place, every mapping below the root that has
    `properties` and no `additionalProperties` gets `additionalProperties: false`."""
    if isinstance(schema, dict):
        if not root and "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        for value in schema.values():
            deny_additional_properties(value, root=False)
    return schema


@overload
def replace_int_or_string(schema: dict[str, Any]) -> dict[str, Any]: ...
@overload
def replace_int_or_string(schema: _T) -> _T: ...
def replace_int_or_string(schema: Any) -> Any:
    """openapi2jsonschema's replace_int_or_string(): a value schema of `format: int-or-string` becomes
    `oneOf: [string, integer]` (in mapping values and list items, never the root itself)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if isinstance(value, dict):
            out[key] = dict(INT_OR_STRING) if value.get("format") == "int-or-string" else replace_int_or_string(value)
        elif isinstance(value, list):
            out[key] = [replace_int_or_string(item) for item in value]
        else:
            out[key] = value
    return out


def convert_schema(open_api_v3_schema: dict[str, Any]) -> dict[str, Any]:
    return replace_int_or_string(deny_additional_properties(copy.deepcopy(open_api_v3_schema)))


def convert(text: str, shown: str, into: Converted | None = None) -> Converted:
    """Every CRD of a YAML stream (a `kind: List` with items, one CRD, or several documents), converted into
    `into` (a fresh Converted by default). Non-CRD documents are skipped with a warning."""
    result = into if into is not None else Converted()
    loader = CrdLoader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node)
            _document(result, data, node, shown, index)
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        context = f" ({exc.context})" if exc.context else ""
        result.problems.append(Diagnostic(shown, line, col, "$", f"YAML syntax error: {exc.problem or exc}{context}",
                                          "give CRDs as YAML, e.g. the output of 'kubectl get crd -o yaml'"))
    except yaml.YAMLError as exc:  # bad encoding or control characters
        result.problems.append(Diagnostic(shown, 1, 1, "$", f"cannot read YAML: {exc}"))
    finally:
        loader.dispose()
    return result


def _document(result: Converted, data: Any, node: yaml.Node, shown: str, index: int) -> None:
    if data is None:
        return
    where = _Where(shown, node)
    if not isinstance(data, dict):
        result.problems.append(where.warning((), f"document {index + 1} is not a mapping: skipped"))
        return
    if isinstance(data.get("items"), list):
        for i, item in enumerate(data["items"]):
            _object(result, item, where, ("items", i))
        return
    _object(result, data, where, ())


def _object(result: Converted, obj: Any, where: _Where, path: YamlPath) -> None:
    kind = obj.get("kind") if isinstance(obj, dict) else None
    if kind != "CustomResourceDefinition":
        name = obj.get("metadata", {}).get("name") if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict) else None
        result.problems.append(where.warning(path, f"not a CustomResourceDefinition ({kind} {name}): skipped"))
        return
    spec = obj.get("spec")
    group = spec.get("group") if isinstance(spec, dict) else None
    names = spec.get("names") if isinstance(spec, dict) else None
    kind_name = names.get("kind") if isinstance(names, dict) else None
    if not isinstance(group, str) or not group or not isinstance(kind_name, str) or not kind_name:
        missing = "spec.group" if not isinstance(group, str) or not group else "spec.names.kind"
        result.problems.append(where.error(path + ("spec",), f"CustomResourceDefinition without {missing}"))
        return
    result.crds += 1
    legacy = spec.get("validation") if isinstance(spec.get("validation"), dict) else {}
    versions = spec.get("versions")
    if not versions:  # apiextensions v1beta1 with a single spec.version
        versions = [{"name": spec.get("version"), "served": True}]
    if not isinstance(versions, list):
        result.problems.append(where.error(path + ("spec", "versions"), "spec.versions must be a list"))
        return
    for i, version in enumerate(versions):
        at = path + ("spec", "versions", i)
        if not isinstance(version, dict) or not isinstance(version.get("name"), str):
            result.problems.append(where.error(at, f"{kind_name}: a version without a name"))
            continue
        if version.get("served", True) is not True:
            continue
        schema = (version.get("schema") or {}).get("openAPIV3Schema") if isinstance(version.get("schema"), dict) else None
        if schema is None:
            schema = legacy.get("openAPIV3Schema")
        if not isinstance(schema, dict):
            result.problems.append(where.warning(at, f"{group} {kind_name} {version['name']} has no openAPIV3Schema: "
                                                     "skipped"))
            continue
        relpath = f"{group}/{kind_name}_{version['name']}.json".lower()
        if relpath in result.schemas:
            result.problems.append(where.error(at, f"{group} {kind_name} {version['name']} is defined twice",
                                               "give each CustomResourceDefinition once"))
            continue
        result.schemas[relpath] = convert_schema(schema)


class _Where:
    """Diagnostics at the line and column of a path inside one composed YAML document."""

    def __init__(self, shown: str, node: yaml.Node):
        self.shown = shown
        self.node = node

    def _position(self, path: YamlPath) -> tuple[int, int]:
        node = self.node
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
        return node.start_mark.line + 1, node.start_mark.column + 1

    def error(self, path: YamlPath, message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(self.shown, *self._position(path), json_path(path), message, hint)

    def warning(self, path: YamlPath, message: str) -> Diagnostic:
        return Diagnostic(self.shown, *self._position(path), json_path(path), message, severity=WARNING)
