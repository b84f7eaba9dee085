"""`nimgen verify` (the committed out/ against the Kubernetes schemas, nimgen's CRD schemas and extra schema
locations in kubeconform's layout) and `nimgen crd-schemas` (CRDs -> such a location, as openapi2jsonschema does)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import SHARED, UPSTREAM_SCHEMAS, Result, run
from nimgen.cli import main
from nimgen.crd_schemas import convert_schema
from nimgen.verify.schemas import verify_object
from nimgen.output.read import out_manifests
from nimgen.usecases import verify_out

needs_shared = pytest.mark.skipif(not UPSTREAM_SCHEMAS.is_dir(), reason="../shared/crds/jsonschema is absent")

SERVICE_MONITOR = """---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: extra
  namespace: chat
spec:
  endpoints:
  - port: metrics
  selector:
    matchLabels:
      app: x
"""


def clean_failure(result: Result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    return result.stderr


def first_file_with(root: Path, kind: str) -> tuple[str, Path]:
    for path in sorted((root / "out").rglob("*.yaml")):
        if f"\nkind: {kind}\n" in path.read_text():
            return path.relative_to(root).as_posix(), path
    raise AssertionError(f"no {kind} in out/")


def insert_after(path: Path, anchor: str, new: str) -> int:
    """Insert the line `new` after the first line equal to `anchor`; returns its 1-based line number."""
    lines = path.read_text().split("\n")
    at = lines.index(anchor) + 1
    lines.insert(at, new)
    path.write_text("\n".join(lines))
    return at + 1


def location(tmp_path: Path, schemas: dict[str, dict]) -> Path:
    folder = tmp_path / "schemas-location"
    for relpath, schema in schemas.items():
        (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
        (folder / relpath).write_text(json.dumps(schema))
    return folder


# verify


def test_verify_passes_a_fresh_build_and_counts_its_objects(built_readonly: Path):
    result = run(built_readonly, "verify")
    assert result.exit_code == 0, result.stderr
    objects = sum(len(m.objects) for files in out_manifests(built_readonly).values() for m in files.values())
    assert objects > 10
    assert result.stdout == (f"nimgen verify: {objects} object(s) in 3 environment(s) pass the Kubernetes schemas, "
                             "nimgen's CRD schemas and the cluster rules\n")
    assert run(built_readonly, "verify", "--env", "dev").stdout.startswith("nimgen verify: ")
    assert "in 1 environment(s)" in run(built_readonly, "verify", "--env", "dev").stdout


def test_out_manifests_lists_every_manifest_but_the_kustomization(built_readonly: Path):
    found = out_manifests(built_readonly, ["prod"])
    assert set(found) == {"prod"}
    assert "kustomization.yaml" not in found["prod"] and "prepare/cluster/queues.yaml" in found["prod"]
    assert {o["kind"] for o in found["prod"]["prepare/cluster/queues.yaml"].objects} == {"Queue"}


@needs_shared
def test_verify_passes_the_build_against_the_upstream_crds(built_readonly: Path):
    result = run(built_readonly, "verify", "--schema-location", str(UPSTREAM_SCHEMAS))
    assert result.exit_code == 0, result.stderr
    assert ", 1 schema location(s) and the cluster rules" in result.stdout


@needs_shared
def test_a_field_the_upstream_crd_forbids_fails_at_its_file_and_line(built: Path):
    shown, path = first_file_with(built, "InferenceService")
    line = insert_after(path, "  predictor:", "    bogusField: 1")
    stderr = clean_failure(run(built, "verify", "--schema-location", str(UPSTREAM_SCHEMAS)))
    schema = UPSTREAM_SCHEMAS / "serving.kserve.io" / "inferenceservice_v1beta1.json"
    assert (f"{shown}:{line}:5: spec.predictor: InferenceService " in stderr
            and f"Additional properties are not allowed ('bogusField' was unexpected) (schema {schema})" in stderr)


@needs_shared
def test_a_kind_only_a_location_knows_is_checked_there_and_unknown_without_it(built: Path):
    shown, path = first_file_with(built, "InferenceService")
    start = len(path.read_text().split("\n"))
    path.write_text(path.read_text() + SERVICE_MONITOR)
    # nimgen has no ServiceMonitor schema: no schema anywhere is a problem
    stderr = clean_failure(run(built, "verify"))
    assert f"{shown}:{start + 1}:1: $: ServiceMonitor extra: no schema for monitoring.coreos.com/v1 ServiceMonitor" in stderr
    # the upstream CRD knows it: valid, it passes
    assert run(built, "verify", "--schema-location", str(UPSTREAM_SCHEMAS)).exit_code == 0
    # and invalid, it fails at the line of the field
    line = insert_after(path, "  - port: metrics", "    bogus: 1")
    stderr = clean_failure(run(built, "verify", "--schema-location", str(UPSTREAM_SCHEMAS)))
    assert f"{shown}:{line - 1}:5: spec.endpoints[0]: ServiceMonitor extra: Additional properties are not allowed " \
           "('bogus' was unexpected)" in stderr


def test_a_stricter_location_is_honoured_for_crd_and_core_kinds(built_readonly: Path, tmp_path: Path):
    folder = location(tmp_path, {
        "serving.kserve.io/inferenceservice_v1beta1.json": {"type": "object", "required": ["status"]},
        "namespace_v1.json": {"properties": {"metadata": {"required": ["annotations"]}}},  # core: group ""
    })
    assert run(built_readonly, "verify").exit_code == 0
    stderr = clean_failure(run(built_readonly, "verify", "--schema-location", str(folder)))
    shown, path = first_file_with(built_readonly, "InferenceService")
    line = path.read_text().split("\n").index("kind: InferenceService")  # the line of apiVersion, 1-based
    schema = folder / "serving.kserve.io" / "inferenceservice_v1beta1.json"
    assert f"{shown}:{line}:1: $: InferenceService " in stderr
    assert f"'status' is a required property (schema {schema})" in stderr
    assert "metadata: Namespace chat: 'annotations' is a required property" in stderr
    assert "does the cluster run the CRD version the environment declares" in stderr


def test_verify_object_applies_every_location_holding_a_schema(tmp_path: Path):
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3}}
    strict = location(tmp_path, {"example.com/widget_v1.json": {"properties": {"spec": {
        "properties": {"size": {"maximum": 2}}}}}})
    lenient = tmp_path / "lenient"
    (lenient / "example.com").mkdir(parents=True)
    (lenient / "example.com" / "widget_v1.json").write_text("{}")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert verify_object(widget, "1.33", [lenient]) == []
    assert verify_object(widget, "1.33", [empty]) == [
        ((), f"no schema for example.com/v1 Widget in nimgen's schemas or {empty}")]
    problems = verify_object(widget, "1.33", [lenient, strict])
    assert problems == [(("spec", "size"), f"3 is greater than the maximum of 2 (schema {strict}/example.com/widget_v1.json)")]


def test_a_missing_schema_location_is_a_clean_error(built_readonly: Path, tmp_path: Path):
    stderr = clean_failure(run(built_readonly, "verify", "--schema-location", str(tmp_path / "nowhere")))
    assert f"{tmp_path / 'nowhere'}:1:1: $: schema location {tmp_path / 'nowhere'} is not a folder" in stderr


def test_an_empty_schema_location_is_a_warning(built_readonly: Path, tmp_path: Path):
    result = run(built_readonly, "verify", "--schema-location", str(tmp_path))
    assert result.exit_code == 0
    assert f"warning: schema location {tmp_path} holds no {{group}}/{{kind}}_{{version}}.json file" in result.stderr


def test_a_broken_schema_file_is_a_clean_error(built_readonly: Path, tmp_path: Path):
    folder = tmp_path / "broken"
    (folder / "serving.kserve.io").mkdir(parents=True)
    (folder / "serving.kserve.io" / "inferenceservice_v1beta1.json").write_text("{not json")
    stderr = clean_failure(run(built_readonly, "verify", "--schema-location", str(folder)))
    assert "cannot read schema" in stderr and "inferenceservice_v1beta1.json" in stderr


def test_a_missing_out_environment_is_a_clean_error(built: Path):
    for path in sorted((built / "out" / "staging").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (built / "out" / "staging").rmdir()
    stderr = clean_failure(run(built, "verify"))
    assert "out/staging:1:1: $: out/staging/ does not exist [hint: run 'make build' to render it]" in stderr
    assert "environments/nope:1:1: $: unknown environment 'nope'" in clean_failure(run(built, "verify", "--env", "nope"))


def test_a_hand_edited_yaml_error_is_located(built: Path):
    shown, path = first_file_with(built, "InferenceService")
    line = insert_after(path, "  predictor:", "    bad: [unclosed")
    stderr = clean_failure(run(built, "verify"))
    assert f"{shown}:{line + 1}:" in stderr and "YAML syntax error" in stderr


def test_a_hand_edited_core_object_breaks_the_strict_schema(built: Path):
    shown, path = first_file_with(built, "Namespace")
    line = insert_after(path, "kind: Namespace", "spec: {bogus: 1}")
    stderr = clean_failure(run(built, "verify"))
    assert f"{shown}:{line}:" in stderr and "spec: Namespace" in stderr and "'bogus' was unexpected" in stderr
    assert "'nimgen check' shows how it differs" in stderr


def test_verify_out_returns_diagnostics(built_readonly: Path, tmp_path: Path):
    assert verify_out(built_readonly, None, []).problems == []
    folder = location(tmp_path, {"scheduling.run.ai/queue_v2.json": {"required": ["status"]}})
    problems = verify_out(built_readonly, ["prod"], [folder]).problems
    assert problems and all(p.file == "out/prod/prepare/cluster/queues.yaml" for p in problems)


def test_kubeconform_gets_the_extra_locations(built_readonly: Path, tmp_path: Path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "kubeconform"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {bindir}/args\necho '{{\"resources\": []}}'\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    folder = location(tmp_path, {"example.com/widget_v1.json": {}})
    assert run(built_readonly, "verify", "--env", "dev", "--schema-location", str(folder)).exit_code == 0
    args = (bindir / "args").read_text()
    extra = f"-schema-location {folder.resolve()}/{{{{ .Group }}}}/{{{{ .ResourceKind }}}}_{{{{ .ResourceAPIVersion }}}}.json"
    assert extra in args
    # core schemas first, then the extra location, then nimgen's own CRD schemas (kubeconform takes the first found)
    assert args.index("-local-strict/") < args.index(extra) < args.index("schemas/k8s-crds/")


# crd-schemas


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {"group": "example.com", "names": {"kind": "Widget", "plural": "widgets"}, "scope": "Namespaced",
             "versions": [
                 {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object",
                     "properties": {"spec": {"type": "object", "properties": {
                         "size": {"type": "integer"},
                         "port": {"format": "int-or-string", "description": "dropped"},
                         "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                         "anyOf": {"type": "object", "properties": {"a": {"type": "string"}},
                                   "additionalProperties": True}}}}}}},
                 {"name": "v0", "served": False, "storage": False,
                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}


def crd_schemas(*args: str, stdin: str = "") -> Result:
    result = CliRunner().invoke(main, ["crd-schemas", *args], input=stdin, catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def test_crd_schemas_reads_kubectl_list_output_from_stdin(tmp_path: Path):
    listed = {"apiVersion": "v1", "kind": "List",
              "items": [CRD, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}}]}
    result = crd_schemas("--out", str(tmp_path / "s"), stdin=yaml.safe_dump(listed))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"nimgen crd-schemas: wrote 1 schema(s) of 1 CustomResourceDefinition(s) to {tmp_path / 's'}\n"
    assert "<stdin>:" in result.stderr and "items[1]: warning: not a CustomResourceDefinition (ConfigMap cm): skipped" \
        in result.stderr
    written = sorted(p.relative_to(tmp_path / "s").as_posix() for p in (tmp_path / "s").rglob("*.json"))
    assert written == ["example.com/widget_v1.json"]  # v0 is not served
    text = (tmp_path / "s" / "example.com" / "widget_v1.json").read_text()
    schema = json.loads(text)
    assert text == json.dumps(schema, indent=2, sort_keys=True) + "\n"
    assert "additionalProperties" not in schema  # the root stays open, as in openapi2jsonschema
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert spec["properties"]["port"] == {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    assert spec["properties"]["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert spec["properties"]["anyOf"]["additionalProperties"] is True


def test_crd_schemas_reads_files_and_documents(tmp_path: Path):
    one = tmp_path / "one.yaml"
    other = dict(CRD, spec=dict(CRD["spec"], group="other.io"))
    one.write_text(yaml.safe_dump(CRD) + "---\n" + yaml.safe_dump(other))
    result = crd_schemas(str(one), "--out", str(tmp_path / "s"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "s" / "other.io" / "widget_v1.json").is_file()
    assert "wrote 2 schema(s) of 2 CustomResourceDefinition(s)" in result.stdout


def test_crd_schemas_bad_input_is_a_clean_error(tmp_path: Path):
    out = tmp_path / "s"
    stderr = clean_failure(crd_schemas("--out", str(out), stdin="kind: List\nitems: [\n  - a: b\n  c\n"))
    assert "<stdin>:" in stderr and "YAML syntax error" in stderr
    stderr = clean_failure(crd_schemas("--out", str(out), stdin=yaml.safe_dump({"kind": "ConfigMap"})))
    assert "<stdin>:1:1: $: no CustomResourceDefinition found [hint: give CRD files, or pipe 'kubectl get crd -o yaml']" \
        in stderr
    stderr = clean_failure(crd_schemas(str(tmp_path / "missing.yaml"), "--out", str(out)))
    assert f"{tmp_path / 'missing.yaml'}:1:1: $: cannot read file" in stderr
    broken = dict(CRD, spec={"names": {"kind": "Widget"}})
    stderr = clean_failure(crd_schemas("--out", str(out), stdin=yaml.safe_dump(broken, sort_keys=False)))
    assert "spec: CustomResourceDefinition without spec.group" in stderr
    assert not out.exists()


def deny_in_list_items(schema: object, in_list: bool = False) -> object:
    """Add `additionalProperties: false` to object schemas that are list items (anyOf/oneOf branches)."""
    if isinstance(schema, list):
        return [deny_in_list_items(item, True) for item in schema]
    if not isinstance(schema, dict):
        return schema
    found = {key: deny_in_list_items(value) for key, value in schema.items()}
    if in_list and "properties" in found and "additionalProperties" not in found:
        found["additionalProperties"] = False
    return found


def test_list_items_stay_open_as_kubeconform_converts_them():
    """A oneOf branch declaring a subset of the properties must not reject the others (kubeconform's rule)."""
    converted = convert_schema({"type": "object", "properties": {"spec": {
        "type": "object", "properties": {"type": {"type": "string"}, "value": {"type": "string"}},
        "oneOf": [{"properties": {"type": {"enum": ["IPAddress"]}}}]}}})
    spec = converted["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert "additionalProperties" not in spec["oneOf"][0]


def converted_as_shared(folder: Path) -> None:
    """The schemas converted into folder are the shared jsonschema/ set, file for file."""
    written = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*.json")}
    expected = {p.relative_to(UPSTREAM_SCHEMAS).as_posix(): p for p in UPSTREAM_SCHEMAS.rglob("*.json")}
    assert sorted(written) == sorted(expected)
    for relpath, path in expected.items():
        ours, shared = json.loads(written[relpath].read_text()), json.loads(path.read_text())
        # The shared set also closed the object schemas inside lists (the Gateway's `addresses.items.oneOf`
        # branches); kubeconform's openapi2jsonschema walks mapping values only, and so does nimgen. Closing them
        # too must give the shared schema exactly: that is the only way the two conversions differ.
        assert deny_in_list_items(ours) == shared, relpath


@pytest.mark.thorough   # the same conversion (from stdin) runs in test_kubectl_output_converted_then_verified
@needs_shared
def test_converting_the_shared_crds_gives_the_shared_jsonschema(tmp_path: Path):
    files = sorted(str(p) for p in (SHARED / "crds").glob("*.yaml"))
    result = crd_schemas(*files, "--out", str(tmp_path / "s"))
    assert result.exit_code == 0, result.stderr
    converted_as_shared(tmp_path / "s")
    written = {p.relative_to(tmp_path / "s").as_posix(): p for p in (tmp_path / "s").rglob("*.json")}
    before = {r: p.read_bytes() for r, p in written.items()}
    assert crd_schemas(*files, "--out", str(tmp_path / "s")).exit_code == 0
    assert {r: p.read_bytes() for r, p in written.items()} == before  # deterministic


def as_list_item(text: str) -> str:
    """One CRD file (a single YAML document) as an item of a block sequence: '- ' before its first line, every
    other line indented by two (block scalars keep their relative indentation)."""
    lines = text.split("\n")
    while lines and (lines[0] in ("", "---") or lines[0].startswith("#")):
        lines.pop(0)
    while lines and lines[-1] == "":
        lines.pop()
    assert not any(line.startswith(("---", "...")) for line in lines), "one document per CRD file"
    return "\n".join(["- " + lines[0]] + [f"  {line}" if line else line for line in lines[1:]])


@needs_shared
def test_kubectl_output_converted_then_verified(built: Path, tmp_path: Path):
    """kubectl get crd -o yaml | nimgen crd-schemas --out DIR; nimgen verify --schema-location DIR"""
    # what kubectl prints: one List holding every CRD (the 18 shared ones, 5 MB of YAML on stdin)
    items = [as_list_item(p.read_text()) for p in sorted((SHARED / "crds").glob("*.yaml"))]
    listed = "apiVersion: v1\nkind: List\nitems:\n" + "\n".join(items) + "\n"
    result = crd_schemas("--out", str(tmp_path / "cluster"), stdin=listed)
    assert result.exit_code == 0, result.stderr
    converted_as_shared(tmp_path / "cluster")
    assert run(built, "verify", "--schema-location", str(tmp_path / "cluster")).exit_code == 0
    shown, path = first_file_with(built, "InferenceService")
    insert_after(path, "  predictor:", "    bogusField: 1")
    assert "(schema " in clean_failure(run(built, "verify", "--schema-location", str(tmp_path / "cluster")))
