"""Stage 2, validate: check each input document against the JSON Schema of its kind.

Every error of every document is reported, each at the file/line/column that wrote the offending value.
Schemas may carry two annotations of ours: `x-message` (a clearer message, formatted with {value}) and
`x-hint` (what to write instead). jsonschema does the validating; this module only translates its errors.
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import jsonschema
from referencing import Registry, Resource

from ..diagnostics import Diagnostic
from .load import Document

SCHEMA_DIR = Path(__file__).resolve().parent.parent.parent / "schemas"
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
def validator_for(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=_registry())


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
    if kind not in SCHEMA_FILES:
        return [doc.diagnostic(("kind",), f"unknown kind {kind!r}",
                               f"one of: {', '.join(sorted(SCHEMA_FILES))}")]
    if expected_kind and kind != expected_kind:
        return [doc.diagnostic(("kind",), f"kind {kind} does not belong here: this folder holds {expected_kind}")]
    problems: list[Diagnostic] = []
    for error in validator_for(kind).iter_errors(data):
        problems.extend(_translate(doc, error))
    return sorted(set(problems))


def _hint(schema: Any) -> str | None:
    return schema.get("x-hint") if isinstance(schema, dict) else None


def _translate(doc: Document, error: jsonschema.ValidationError) -> Iterable[Diagnostic]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
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
        yield doc.diagnostic(path + (missing,), f"missing required field '{missing}'",
                             _hint(schema.get("properties", {}).get(missing)), key=True)
        return
    if error.validator in ("oneOf", "anyOf", "minProperties", "maxProperties") and "x-message" not in schema:
        best = jsonschema.exceptions.best_match(error.context) if error.context else None
        if best is not None:
            yield from _translate(doc, best)
            return
    if error.validator == "propertyNames":
        # the bad key itself is the instance of the failing sub-error
        for sub in error.context or [error]:
            yield doc.diagnostic(path + (sub.instance,), _message(sub, sub.instance), _hint(sub.schema), key=True)
        return
    yield doc.diagnostic(path, _message(error, error.instance), _hint(schema) or _parent_hint(error))


def _message(error: jsonschema.ValidationError, value: Any) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    template = schema.get("x-message")
    if template is None and error.parent is not None and isinstance(error.parent.schema, dict):
        template = error.parent.schema.get("x-message")
    if template:
        return template.format(value=value)
    if error.validator == "type":
        found = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
                 float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"must be {_article(expected)}, found {found} ({json.dumps(value, default=str)})"
    if error.validator == "enum":
        return f"{value!r} is not one of: {', '.join(map(str, error.validator_value))}"
    if error.validator == "const":
        return f"must be {error.validator_value!r}, found {value!r}"
    return error.message


def _article(expected: str) -> str:
    names = {"object": "a mapping", "array": "a list", "string": "a string", "integer": "an integer",
             "number": "a number", "boolean": "a boolean (true or false)"}
    return names.get(expected, expected)


def _parent_hint(error: jsonschema.ValidationError) -> str | None:
    parent = error.parent
    return _hint(parent.schema) if parent is not None else None
