"""The input reference, docs/REFERENCE.md: every field of every input kind, rendered from the JSON Schemas in
schemas/ (`make reference`; tests/test_reference.py fails when the committed file is not what this renders).

Each kind's fields are listed by dotted path (`spec.scaling.minReplicas`; `[]` marks the items of a list) with
their type, whether they are required, their description and hint, and their bounds. Types follow `$ref` (into
common.schema.json too) and oneOf/anyOf alternatives; an object a `$ref` names is expanded in place, a named
scalar or map type (dnsLabel, quantity, labels, ...) links to its entry under "Shared types", which shows its
definition once. Patterns are shown sparingly: a field's own only when short, a shared type's when readable;
longer ones are left to the description, the hint and the validator's message.

The output depends on the schema files alone (their order as written, sorted file names), so it is deterministic.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import resources

# Found as inputs/validate.py finds its SCHEMA_DIR (report may not import inputs: pyproject's import contracts).
SCHEMA_DIR = resources.SCHEMA_DIR
COMMAND = "make reference"
MODULE_COMMAND = ".venv/bin/python -m nimgen.report.reference > docs/REFERENCE.md"

# The kinds in the order a reader meets them; the schema of a kind not listed here follows them, by name.
KIND_ORDER = ("Environment", "Project", "InferenceWorkload", "ComputeTemplate", "DataSource", "NimModel")
# Where the files of each kind live (inputs/sources.py decides it; report may not import inputs).
WHERE = {
    "Environment": "`environments/<env>/environment.yaml` (layered over `environments/base/environment.yaml` "
                   "when `spec.base: base`)",
    "Project": "`environments/<env>/projects/*.yaml` (and `environments/base/projects/`)",
    "InferenceWorkload": "`environments/<env>/workloads/*.yaml` (and `environments/base/workloads/`)",
    "ComputeTemplate": "`templates/compute/*.yaml`; an environment overrides one in "
                       "`environments/<env>/templates/compute/`",
    "DataSource": "`templates/datasources/*.yaml`; an environment overrides one in "
                  "`environments/<env>/templates/datasources/`",
    "NimModel": "`templates/models/*.yaml` (written by `tools/import_nim_profiles.py`); an environment overrides "
                "one in `environments/<env>/templates/models/`",
}
BOUND_KEYWORDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
                  "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties")
FIELD_PATTERN = 40     # the longest pattern of a field's own shown beside its type
TYPE_PATTERN = 80      # the longest pattern of a shared type shown in its definition

Schema = dict[str, Any]


@dataclass(frozen=True)
class Node:
    """A schema node and the schema file its local references (`#/$defs/...`) resolve in."""

    schema: Schema
    file: str


@dataclass(frozen=True)
class Field:
    path: str
    type: str
    required: bool
    description: str
    hint: str
    bounds: str


@dataclass(frozen=True)
class Kind:
    name: str
    file: str
    title: str
    description: str
    fields: tuple[Field, ...]


class Schemas:
    """The schema files of one folder, and the named types their fields link to."""

    def __init__(self, schema_dir: Path) -> None:
        self.files: dict[str, Schema] = {path.name: json.loads(path.read_text(encoding="utf-8"))
                                         for path in sorted(schema_dir.glob("*.schema.json"))}
        self.named: dict[str, Node] = {}

    def resolve(self, ref: str, file: str) -> tuple[str, Node]:
        """The name (the last part of the pointer) and node a `$ref` of `file` points at."""
        target, _, pointer = ref.partition("#")
        target = target or file
        node: Any = self.files[target]
        for part in pointer.split("/")[1:]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return pointer.rsplit("/", 1)[-1], Node(node, target)

    def deref(self, node: Node) -> Node:
        while "$ref" in node.schema:
            node = self.resolve(node.schema["$ref"], node.file)[1]
        return node

    def expanded(self, node: Node) -> bool:
        """Whether a node's fields are listed under it (an object, a list of objects, alternatives with objects)."""
        node = self.deref(node)
        schema = node.schema
        items = schema.get("items")
        alternatives = schema.get("oneOf", []) + schema.get("anyOf", [])
        return ("properties" in schema or (isinstance(items, dict) and self.expanded(Node(items, node.file)))
                or any(self.expanded(Node(a, node.file)) for a in alternatives))

    # --- types --------------------------------------------------------------------------------------------------

    def type_text(self, node: Node, longest_pattern: int, links: bool = True) -> str:
        """What a node holds; a named type it refers to as its kind and a link, unless `links` is false (then the
        named types' kinds alone)."""
        schema = node.schema
        if "$ref" in schema:
            name, target = self.resolve(schema["$ref"], node.file)
            base = self.type_text(target, 0, links=False)
            if not links or self.expanded(target):
                return base
            self.named.setdefault(name, target)
            return f"{base} ([{name}](#{anchor(name)}))"
        if "const" in schema:
            return code(scalar(schema["const"]))
        if "enum" in schema:
            return "one of " + ", ".join(code(scalar(v)) for v in schema["enum"])
        kind = schema.get("type")
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives and kind is None:
            return " or ".join(self.type_text(Node(a, node.file), longest_pattern, links) for a in alternatives)
        if isinstance(kind, list):
            return " or ".join(str(k) for k in kind)
        if kind == "array":
            items = schema.get("items")
            return "array of " + (self.type_text(Node(items, node.file), longest_pattern, links)
                                  if isinstance(items, dict) else "any")
        if kind == "object":
            values = schema.get("additionalProperties")
            if not isinstance(values, dict):
                return "object"
            if not links:
                return "map"
            keys = schema.get("propertyNames")
            key_text = self.type_text(Node(keys, node.file), longest_pattern) if isinstance(keys, dict) else "string"
            return f"map of {key_text} to {self.type_text(Node(values, node.file), longest_pattern)}"
        if isinstance(kind, str):
            pattern = schema.get("pattern")
            if isinstance(pattern, str) and len(pattern) <= longest_pattern:
                return f"{kind} matching {code(pattern)}"
            return kind
        return "any"

    def bounds(self, node: Node) -> str:
        """The bounds of a node and of the types it refers to (its own win)."""
        found: dict[str, Any] = {}
        while True:
            for keyword in BOUND_KEYWORDS:
                if keyword not in found and keyword in node.schema:
                    found[keyword] = node.schema[keyword]
            if "$ref" not in node.schema:
                break
            node = self.resolve(node.schema["$ref"], node.file)[1]
        shown = []
        for keyword in BOUND_KEYWORDS:
            if keyword == "uniqueItems":
                if found.get(keyword) is True:
                    shown.append("uniqueItems")
            elif keyword in found:
                shown.append(f"{keyword} {number(found[keyword])}")
        return ", ".join(shown)

    def annotation(self, node: Node, keyword: str) -> str:
        """A node's own annotation, else that of the type it refers to."""
        while True:
            value = node.schema.get(keyword)
            if isinstance(value, str):
                return value
            if "$ref" not in node.schema:
                return ""
            node = self.resolve(node.schema["$ref"], node.file)[1]

    # --- fields -------------------------------------------------------------------------------------------------

    def fields(self, node: Node, prefix: str) -> list[Field]:
        """Every field under a node, depth first in the order the schema writes them, each path once."""
        node = self.deref(node)
        schema = node.schema
        found: list[Field] = []
        required = set(schema.get("required", ()))
        for name, sub in schema.get("properties", {}).items():
            child = Node(sub, node.file)
            path = f"{prefix}.{name}" if prefix else name
            hint = sub.get("x-hint")
            found.append(Field(path, self.type_text(child, FIELD_PATTERN), name in required,
                               self.annotation(child, "description"), hint if isinstance(hint, str) else "",
                               self.bounds(child)))
            found.extend(self.fields(child, path))
        items = schema.get("items")
        if isinstance(items, dict):
            found.extend(self.fields(Node(items, node.file), f"{prefix}[]"))
        values = schema.get("additionalProperties")
        if isinstance(values, dict):
            found.extend(self.fields(Node(values, node.file), f"{prefix}.<name>"))
        for keyword in ("oneOf", "anyOf", "allOf"):
            for alternative in schema.get(keyword, ()):
                found.extend(self.fields(Node(alternative, node.file), prefix))
        unique: dict[str, Field] = {}
        for f in found:
            unique.setdefault(f.path, f)
        return list(unique.values())

    def kinds(self) -> list[Kind]:
        found = []
        for file, schema in self.files.items():
            const = schema.get("properties", {}).get("kind", {}).get("const")
            if not isinstance(const, str):
                continue
            found.append(Kind(const, file, str(schema.get("title", const)), str(schema.get("description", "")),
                              tuple(self.fields(Node(schema, file), ""))))
        order = {name: i for i, name in enumerate(KIND_ORDER)}
        return sorted(found, key=lambda k: (order.get(k.name, len(order)), k.name))


# --- markdown -----------------------------------------------------------------------------------------------------

def scalar(value: Any) -> str:
    """A const or enum value as YAML would take it (JSON for the empty string and non-strings)."""
    return value if isinstance(value, str) and value else json.dumps(value)


def number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def code(text: str) -> str:
    return f"`{text}`"


def anchor(name: str) -> str:
    """The anchor of a heading that is a type's name (letters and digits: GitHub lower-cases it)."""
    return name.lower()


def pipes(text: str) -> str:
    """A table cell's text with its pipes escaped (in code spans too: GitHub splits cells on them first)."""
    return text.replace("|", "\\|")


def prose(text: str) -> str:
    """Text for a table cell: one line, pipes escaped, and outside code spans '<' and '>' as entities (markdown would
    read <env> as an HTML tag)."""
    parts = " ".join(text.split()).split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return pipes("`".join(parts))


def described(description: str, hint: str) -> str:
    text = prose(description)
    if hint:
        text += f" *Hint:* {prose(hint)}"
    return text


def kind_section(kind: Kind) -> list[str]:
    lines = [f"## {kind.name}", ""]
    title = kind.title.split(": ", 1)[1] if kind.title.startswith(f"{kind.name}: ") else kind.title
    intro = kind.description or (title if title != kind.name else "")
    if intro:
        lines += [prose(intro[:1].upper() + intro[1:]), ""]
    lines += [f"Schema: `schemas/{kind.file}`." + (f" Files: {WHERE[kind.name]}." if kind.name in WHERE else ""), "",
              "| Field | Type | Required | Bounds | Description |", "|---|---|---|---|---|"]
    for f in kind.fields:
        lines.append(f"| {code(f.path)} | {pipes(f.type)} | {'yes' if f.required else 'no'} | {f.bounds} | "
                     f"{described(f.description, f.hint)} |")
    return lines + [""]


def types_section(schemas: Schemas) -> list[str]:
    lines = ["## Shared types", "",
             "Types that fields name (linked from their Type column), each defined once in the schemas' `$defs`.", ""]
    rendered: dict[str, list[str]] = {}
    while set(schemas.named) - set(rendered):      # a type's definition may name further types
        for name in sorted(set(schemas.named) - set(rendered)):
            node = schemas.named[name]
            bounds = schemas.bounds(node)
            entry = [f"### {name}", "",
                     f"{schemas.type_text(node, TYPE_PATTERN)}" + (f"; {bounds}" if bounds else "")
                     + f". Defined in `schemas/{node.file}`.", ""]
            description = schemas.annotation(node, "description")
            if description:
                entry += [prose(description[:1].upper() + description[1:]), ""]
            hint = node.schema.get("x-hint")
            if isinstance(hint, str):
                entry += [f"*Hint:* {prose(hint)}", ""]
            rendered[name] = entry
    for name in sorted(rendered, key=lambda n: (n.lower(), n)):
        lines += rendered[name]
    return lines


def reference_markdown(schema_dir: Path) -> str:
    """docs/REFERENCE.md for the schemas in `schema_dir`."""
    schemas = Schemas(schema_dir)
    kinds = schemas.kinds()
    lines = ["# Input reference", "",
             f"Generated from the JSON Schemas in `schemas/` by `{COMMAND}` (`{MODULE_COMMAND}`): do not edit it by "
             "hand; change the schemas and run the command. `tests/test_reference.py` fails when it is not current.",
             "",
             "Every input file is one YAML document with `apiVersion: nimgen.dev/v1alpha1`, a `kind` and `metadata`. "
             "Fields are listed by their path, `[]` marking the items of a list. *Required* means required whenever "
             "the field's parent is given. Defaults are the values nimgen applies when a field is absent; `nimgen "
             "explain ENV WORKLOAD` shows where each value of a workload came from. A linked type is defined under "
             "[Shared types](#shared-types).", ""]
    lines += [f"- [{kind.name}](#{kind.name.lower()}): `schemas/{kind.file}`" for kind in kinds]
    lines += ["- [Shared types](#shared-types)", ""]
    for kind in kinds:
        lines += kind_section(kind)
    lines += types_section(schemas)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the reference of the repository's schemas/ (make reference writes it to docs/REFERENCE.md)."""
    sys.stdout.buffer.write(reference_markdown(SCHEMA_DIR).encode("utf-8"))


if __name__ == "__main__":
    main()
