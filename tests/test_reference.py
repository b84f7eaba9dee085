"""docs/REFERENCE.md, the input reference (nimgen.report.reference, `make reference`): it is what the schemas
render, and every property of every schema (and every $def a schema refers to) has a description to render.

The walks below read the schema files themselves, apart from the generator, so they check it rather than repeat it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from conftest import PROJECT
from nimgen.inputs.validate import SCHEMA_DIR, SCHEMA_FILES
from nimgen.report import reference
from nimgen.report.reference import reference_markdown

REFERENCE = PROJECT / "docs" / "REFERENCE.md"
# Subschemas that restate constraints under a condition (toleration's "effect: NoExecute"), not fields.
CONDITIONS = frozenset({"if", "then", "else", "not"})
# Values that are data, not subschemas.
DATA = frozenset({"const", "enum", "default", "examples", "required"})


def schemas(folder: Path = SCHEMA_DIR) -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.schema.json"))}


def properties(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property under a schema node, as (JSON pointer, its schema): through properties, items, maps,
    alternatives and $defs, not through conditions."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from properties(item, f"{where}/{i}")
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in CONDITIONS or key in DATA:
            continue
        if key == "properties" and isinstance(value, dict):
            for name, prop in value.items():
                yield f"{where}/properties/{name}", prop
                yield from properties(prop, f"{where}/properties/{name}")
        else:
            yield from properties(value, f"{where}/{key}")


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(files: dict[str, dict[str, Any]], ref: str, file: str) -> tuple[str, str, dict[str, Any]]:
    """(file, JSON pointer, node) of a $ref written in `file`."""
    target, _, pointer = ref.partition("#")
    target = target or file
    node: Any = files[target]
    for part in pointer.split("/")[1:]:
        node = node[part]
    return target, pointer, node


def test_the_reference_is_current():
    fresh = reference_markdown(SCHEMA_DIR)
    assert REFERENCE.read_text(encoding="utf-8") == fresh, \
        "docs/REFERENCE.md is not what schemas/*.json render: run make reference and commit it"


def test_make_reference_prints_the_reference_of_the_repository_schemas():
    assert reference.SCHEMA_DIR == SCHEMA_DIR
    printed = subprocess.run([sys.executable, "-m", "nimgen.report.reference"], cwd=PROJECT, capture_output=True,
                             check=True).stdout.decode("utf-8")
    assert printed == reference_markdown(SCHEMA_DIR)
    assert "$(VENV)/bin/python -m nimgen.report.reference > docs/REFERENCE.md" in (PROJECT / "Makefile").read_text()


def test_every_property_of_every_schema_has_a_description():
    missing = [f"schemas/{file}#{where}" for file, schema in schemas().items()
               for where, prop in properties(schema, "") if not isinstance(prop.get("description"), str)
               or not prop["description"].strip()]
    assert not missing, f"{len(missing)} properties without a description:\n" + "\n".join(missing)


def test_every_def_a_schema_refers_to_has_a_description():
    files = schemas()
    missing = set()
    for file, schema in files.items():
        for ref in refs(schema):
            target, pointer, node = resolve(files, ref, file)
            if not isinstance(node.get("description"), str) or not node["description"].strip():
                missing.add(f"schemas/{target}#{pointer}")
    assert not missing, "referenced definitions without a description:\n" + "\n".join(sorted(missing))


def dotted_paths(files: dict[str, dict[str, Any]], node: dict[str, Any], file: str, prefix: str) -> Iterator[str]:
    while "$ref" in node:
        file, _, node = resolve(files, node["$ref"], file)
    for name, prop in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        yield path
        yield from dotted_paths(files, prop, file, path)
    if isinstance(node.get("items"), dict):
        yield from dotted_paths(files, node["items"], file, f"{prefix}[]")
    for alternative in node.get("oneOf", []) + node.get("anyOf", []):
        yield from dotted_paths(files, alternative, file, prefix)


def section(markdown: str, kind: str) -> str:
    found = re.search(rf"^## {kind}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert found, f"no section for {kind}"
    return found.group(1)


def row(markdown: str, kind: str, path: str) -> list[str]:
    """The cells of a field's row in its kind's table."""
    for line in section(markdown, kind).splitlines():
        if line.startswith(f"| `{path}` |"):
            return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
    raise AssertionError(f"{kind} lists no field {path}")


def test_every_field_of_every_kind_is_listed_by_its_dotted_path_once():
    files = schemas()
    markdown = reference_markdown(SCHEMA_DIR)
    headings = re.findall(r"^## (\w+)$", markdown, re.M)
    assert headings[:6] == ["Environment", "Project", "InferenceWorkload", "ComputeTemplate", "DataSource", "NimModel"]
    for kind, file in SCHEMA_FILES.items():
        paths = list(dotted_paths(files, files[file], file, ""))
        listed = re.findall(r"^\| `([^`]+)` \|", section(markdown, kind), re.M)
        assert sorted(listed) == sorted(set(paths)), kind
        assert len(listed) == len(set(listed)), kind


def test_a_row_shows_type_requirement_bounds_description_and_hint():
    files = schemas()
    markdown = reference_markdown(SCHEMA_DIR)
    workload = files["inference-workload.schema.json"]["properties"]["spec"]["properties"]
    replicas = workload["scaling"]["properties"]["minReplicas"]
    assert row(markdown, "InferenceWorkload", "spec.scaling.minReplicas") == [
        "`spec.scaling.minReplicas`", "integer", "no", f"minimum {replicas['minimum']}, maximum {replicas['maximum']}",
        replicas["description"]]
    # a $ref into common.schema.json: the named type's kind, a link to it and its bounds; required by its parent
    name = row(markdown, "Environment", "metadata.name")
    assert name[1:4] == ["string ([dnsLabel](#dnslabel))", "yes", "maxLength 63"]
    # the x-hint after the description
    secret = workload["store"]["properties"]["ngc"]["properties"]["secret"]
    assert row(markdown, "InferenceWorkload", "spec.store.ngc.secret")[4] == \
        f"{secret['description']} *Hint:* {secret['x-hint']}"
    # oneOf alternatives: a string or an object whose fields are listed under the same path
    assert row(markdown, "InferenceWorkload", "spec.store.uri")[1] == "string ([storageUri](#storageuri)) or object"
    assert row(markdown, "InferenceWorkload", "spec.store.uri.url")[1:3] == ["string ([storageUri](#storageuri))", "yes"]
    # enums, consts, list items, maps
    assert row(markdown, "InferenceWorkload", "spec.rollout.maxSurge")[1] == "one of `0`, `1`"
    assert row(markdown, "Environment", "kind")[1] == "`Environment`"
    assert row(markdown, "Environment", "spec.nodePools[].gpu.perNode")[1:4] == \
        ["integer", "yes", "minimum 1, maximum 1000000"]
    assert row(markdown, "Environment", "spec.scheduler.priorities")[1] == \
        "map of string ([dnsLabel](#dnslabel)) to string ([dnsSubdomain](#dnssubdomain))"
    # '<' outside code is an entity (markdown would take <env> for a tag); pipes in patterns are escaped
    assert "out/&lt;env&gt;/" in row(markdown, "Environment", "spec.gitops")[4]
    assert r"`^1\.(0\|[1-9][0-9]{0,3})$`" in row(markdown, "Environment", "spec.kubernetesVersion")[1]


def test_every_link_leads_to_a_heading():
    markdown = reference_markdown(SCHEMA_DIR)
    anchors = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", markdown, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", markdown))
    assert links and links <= anchors, sorted(links - anchors)
    assert {"dnslabel", "quantity", "labels", "gpulimit", "gpuamount", "storageuri"} <= links


def test_the_reference_is_deterministic_and_reads_only_its_folder(tmp_path: Path):
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, copy)
    assert reference_markdown(copy) == reference_markdown(SCHEMA_DIR) == reference_markdown(SCHEMA_DIR)
    path = copy / "project.schema.json"
    path.write_text(path.read_text(encoding="utf-8").replace(
        '"description": "the KAI queue\'s share of unused resources', '"description": "CHANGED: the KAI queue\'s share'),
        encoding="utf-8")
    changed = reference_markdown(copy)
    assert changed != reference_markdown(SCHEMA_DIR)
    assert row(changed, "Project", "spec.overQuota.weight")[4].startswith("CHANGED: the KAI queue's share")
