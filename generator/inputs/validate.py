"""Stage 2, validate: check each input document against the JSON Schema of its kind.

Every error of every document is reported, each at the file/line/column that wrote the offending value.
Schemas may carry two annotations of ours: `x-message` (a clearer message, formatted with {value}) and
`x-hint` (what to write instead). jsonschema does the validating; this module only translates its errors, and
adds what JSON Schema cannot say:

- `number` means a finite number: .inf, -.inf and .nan are refused wherever a number is accepted;
- `x-quantity`: a Kubernetes quantity that fits Kubernetes' int64 milli-units (quantities.problem);
- `x-kubernetes-version`: a version nimgen bundles Kubernetes schemas for (kubernetes-validate's versions);
- `x-max-total-bytes`: the size of a mapping's keys and values together (the API server accepts 256 KiB of
  annotations per object; the schema leaves room for nimgen's own).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, cast

import jsonschema
import jsonschema_rs
from referencing import Registry, Resource

from .. import quantities, resources
from ..diagnostics import Diagnostic
from ..kubernetes_schemas import bundled_versions
from .load import Document

SCHEMA_DIR = resources.SCHEMA_DIR
API_VERSION = "nimgen.dev/v1alpha1"
SCHEMA_FILES = {
    "Environment": "environment.schema.json",
    "Project": "project.schema.json",
    "InferenceWorkload": "inference-workload.schema.json",
    "ComputeTemplate": "compute-template.schema.json",
    "DataSource": "data-source.schema.json",
    "NimModel": "nim-model.schema.json",
}


@lru_cache(maxsize=None)
def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@lru_cache(maxsize=None)
def kubernetes_versions() -> tuple[int, int] | None:
    """The oldest and newest Kubernetes minor versions (1.x) with bundled strict schemas, which the verify stage
    checks rendered objects against; None when there are none."""
    minors = sorted({int(v.split(".")[1]) for v in bundled_versions() if v.startswith("1.")})
    return (minors[0], minors[-1]) if minors else None


def _finite_number(checker: Any, instance: Any) -> bool:
    return (isinstance(instance, (int, float)) and not isinstance(instance, bool)
            and (not isinstance(instance, float) or math.isfinite(instance)))


def _quantity(validator: Any, enabled: Any, instance: Any, schema: Any) -> Iterable[jsonschema.ValidationError]:
    if enabled and isinstance(instance, (str, int, float)) and not isinstance(instance, bool):
        problem = quantities.problem(instance)
        if problem:
            yield jsonschema.ValidationError(problem)


def _kubernetes_version(validator: Any, enabled: Any, instance: Any, schema: Any) -> Iterable[jsonschema.ValidationError]:
    bundled = kubernetes_versions()
    match = re.fullmatch(r"1\.([0-9]{1,4})", instance) if isinstance(instance, str) else None
    if enabled and bundled and match and not bundled[0] <= int(match[1]) <= bundled[1]:
        yield jsonschema.ValidationError(
            f"Kubernetes {instance} is outside the versions nimgen has schemas for (1.{bundled[0]} to 1.{bundled[1]})")


def _max_total_bytes(validator: Any, limit: Any, instance: Any, schema: Any) -> Iterable[jsonschema.ValidationError]:
    if isinstance(instance, dict):
        size = sum(len(k.encode("utf-8", "surrogatepass")) + (len(v.encode("utf-8", "surrogatepass"))
                                                              if isinstance(v, str) else 0)
                   for k, v in instance.items())
        if size > limit:
            yield jsonschema.ValidationError(f"keys and values total {size} bytes, more than the {limit} bytes "
                                             f"({limit // 1024} KiB) nimgen accepts here")


OWN_KEYWORDS = {"x-quantity": _quantity, "x-kubernetes-version": _kubernetes_version,
                "x-max-total-bytes": _max_total_bytes}
# types-jsonschema declares extend() without annotations; it returns a validator class like Draft202012Validator.
Validator: type[jsonschema.protocols.Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, validators=OWN_KEYWORDS,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("number", _finite_number))


@lru_cache(maxsize=None)
def validator_for(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return Validator(schema, registry=_registry())


def _rust_keyword(check: Any) -> type:
    """One of nimgen's own keywords for jsonschema-rs: the same check, an error as a ValueError."""
    class Keyword:
        def __init__(self, parent_schema: Any, value: Any, schema_path: Any):
            self.value, self.schema = value, parent_schema

        def validate(self, instance: Any) -> None:
            for error in check(None, self.value, instance, self.schema):
                raise ValueError(error.message)
    return Keyword


def _retrieve_schema(uri: str) -> Any:
    """common.schema.json and the other input schemas, by their $id's file name."""
    name = uri.rsplit("/", 1)[-1].split("#", 1)[0]
    path = SCHEMA_DIR / name
    if not name.endswith(".schema.json") or not path.is_file():
        raise ValueError(f"no input schema {uri}")
    return json.loads(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def fast_validator_for(kind: str) -> Any:
    """jsonschema-rs compiled from the kind's schema with nimgen's keywords: it answers 'valid?' many times
    faster, and a document it finds invalid is validated again by jsonschema, whose errors are reported. None
    when it cannot compile the schema (jsonschema alone decides then)."""
    schema = json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    try:
        return jsonschema_rs.validator_for(schema, retriever=_retrieve_schema,
                                           keywords={name: _rust_keyword(check) for name, check in OWN_KEYWORDS.items()})
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        return None


def _finite(value: Any) -> bool:
    """No .inf or .nan anywhere: nimgen's own number type refuses them, and only jsonschema words that."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def validate_document(doc: Document, expected_kind: str | None = None) -> list[Diagnostic]:
    """All schema problems of one document, or [] when it is valid."""
    data = doc.data
    if "apiVersion" not in data:
        return [doc.diagnostic(("apiVersion",), "missing required field 'apiVersion'",
                               "start every input with 'apiVersion: nimgen.dev/v1alpha1'")]
    if data.get("apiVersion") != API_VERSION:
        found = data.get("apiVersion")
        return [doc.diagnostic(("apiVersion",), f"apiVersion must be {API_VERSION}, found {found!r}",
                               "start every input with 'apiVersion: nimgen.dev/v1alpha1'",
                               key=found is None)]
    kind = data.get("kind")
    if "kind" not in data:
        return [doc.diagnostic(("kind",), "missing required field 'kind'", f"one of: {', '.join(sorted(SCHEMA_FILES))}",
                               key=True)]
    if not isinstance(kind, str) or kind not in SCHEMA_FILES:
        found = f"unknown kind {kind!r}" if isinstance(kind, str) else f"kind must be a string, found {_found(kind)}"
        return [doc.diagnostic(("kind",), found, f"one of: {', '.join(sorted(SCHEMA_FILES))}")]
    if expected_kind and kind != expected_kind:
        return [doc.diagnostic(("kind",), f"kind {kind} does not belong here: this folder holds {expected_kind}")]
    fast = fast_validator_for(kind)
    if fast is not None and _finite(data) and fast.is_valid(data):
        return []
    problems: list[Diagnostic] = []
    for error in validator_for(kind).iter_errors(data):
        problems.extend(_translate(doc, error))
    return sorted(set(problems))


def _hint(schema: Any) -> str | None:
    return schema.get("x-hint") if isinstance(schema, dict) else None


def _translate(doc: Document, error: jsonschema.ValidationError) -> Iterable[Diagnostic]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if isinstance(error.instance, float) and not math.isfinite(error.instance):
        yield doc.diagnostic(path, f"found {_special(error.instance)}: nimgen accepts only finite numbers",
                             "write a number such as 8 or 0.5 (.inf, -.inf and .nan are not numbers Kubernetes takes)")
        return
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in schema.get("properties", {})]
        for key in extras:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else (f"allowed: {', '.join(allowed)}" if allowed else None)
            yield doc.diagnostic(path + (key,), f"unknown field '{key}'", hint, key=True)
        return
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        message = _format(schema.get("x-message", "missing required field '{value}'"), missing)
        yield doc.diagnostic(path + (missing,), message,
                             _hint(schema.get("properties", {}).get(missing)) or _hint(schema), key=True)
        return
    if error.validator in ("oneOf", "anyOf", "minProperties", "maxProperties") and "x-message" not in schema:
        best = jsonschema.exceptions.best_match(error.context) if error.context else None
        if best is not None:
            yield from _translate(doc, best)
            return
    if "propertyNames" in error.schema_path and isinstance(error.instance, str):
        # a mapping key breaks the rule for keys: the instance is the key, reported where the key is written
        yield doc.diagnostic(path + (error.instance,), _message(error, error.instance), _hint(schema), key=True)
        return
    yield doc.diagnostic(path, _message(error, error.instance), _hint(schema) or _parent_hint(error))


def _message(error: jsonschema.ValidationError, value: Any) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    template = schema.get("x-message")
    if template is None and error.parent is not None and isinstance(error.parent.schema, dict):
        template = error.parent.schema.get("x-message")
    if error.validator in OWN_KEYWORDS:
        return error.message
    if template:
        return _format(template, value)
    if error.validator == "type":
        # the schema passed check_schema: `type` is a type name or a list of them, `enum` a list
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else cast(str, expected)
        return f"must be {_article(expected)}, found {_found(value)}"
    if error.validator == "enum":
        return f"{value!r} is not one of: {', '.join(map(str, cast(list[Any], error.validator_value)))}"
    if error.validator == "const":
        return f"must be {error.validator_value!r}, found {value!r}"
    return error.message


def _format(template: str, value: Any) -> str:
    """An x-message with {value} or {value!r} filled in (other braces are text: no str.format)."""
    if isinstance(value, str) and len(value) > 100:
        value = value[:97] + "..."
    return template.replace("{value!r}", repr(value)).replace("{value}", str(value))


def _found(value: Any) -> str:
    kind = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
    shown = json.dumps(value, default=str)
    return f"{kind} ({shown if len(shown) <= 80 else shown[:77] + '...'})"


def _special(value: float) -> str:
    return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"


def _article(expected: str) -> str:
    names = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
             "number": "a number", "boolean": "a boolean (true or false)"}
    return names.get(expected, expected)


def _parent_hint(error: jsonschema.ValidationError) -> str | None:
    parent = error.parent
    return _hint(parent.schema) if parent is not None else None
