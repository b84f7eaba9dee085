"""Bad inputs: each is reported as FILE:LINE:COL: PATH: message, exit 1, no traceback, out/ untouched.

Every case starts from a copy of the example after a successful build (the `built` fixture), writes or overwrites
ONE input file, and runs `nimgen build`. Expected positions are 1-based and were counted by hand from the text
written (the comment on each row names the token the position must point at).
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from conftest import FIXTURE, NEW_WORKLOAD, VALID_WORKLOAD, run, snapshot

# A complete, valid new workload for prod; most cases change one line of it (line numbers shown on the right).
NEW = NEW_WORKLOAD
VALID = VALID_WORKLOAD
#   line 4: "  name: x"                      value at col 9
#   line 5: "  project: research"            value at col 12
#   line 7: "  model: {nim: ..., version: "  version value at col 53
#   line 10: "  store: {uri: ...}"           the mapping '{' at col 10
#   line 11: "  compute: {template: small}"  template value at col 23
#   line 12: "  scaling: {minReplicas: 1, maxReplicas: 1}"  maxReplicas value at col 42


def edit(old: str, new: str, text: str = VALID) -> str:
    """`text` with the single occurrence of `old` replaced (fails loudly if the table drifts from VALID)."""
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


STAGING_NEW = "environments/staging/workloads/x.yaml"   # hpa backend, scale from zero via keda-http
DEV_NEW = "environments/dev/workloads/x.yaml"           # knative backend
NGC_KEY = "nvapi-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwx"

# An environment override merged over environments/base/workloads/llama-8b-chat.yaml.
PROD_OVERRIDE = "environments/prod/workloads/llama-8b-chat.yaml"
DEV_OVERRIDE = "environments/dev/workloads/llama-8b-chat.yaml"
BASE_CHAT = "environments/base/workloads/llama-8b-chat.yaml"
BASE_CHAT_TEXT = (FIXTURE / BASE_CHAT).read_text()

# (id, file relative to the root, text written to it, expected "FILE:LINE:COL: PATH:" prefix, key phrase)
CASES = [
    ("yaml-syntax", NEW, edit("  name: x\n", "  name: x: y\n"),
     f"{NEW}:4:10: $:", "YAML syntax error"),  # the second ':' on line 4
    ("duplicate-yaml-key", NEW, VALID + "  compute: {template: small}\n",
     f"{NEW}:13:3: spec.compute:", "duplicate key 'compute'"),  # the second 'compute' key, line 13
    ("empty-file", NEW, "",
     f"{NEW}:1:1: $:", "file is empty"),
    ("not-a-mapping", NEW, "- apiVersion: nimgen.dev/v1alpha1\n- kind: InferenceWorkload\n",
     f"{NEW}:1:1: $:", "must be a mapping, found a list"),
    ("two-documents", NEW, VALID + "---\n" + VALID,
     f"{NEW}:13:1: $:", "more than one YAML document"),  # the '---' on line 13
    ("wrong-kind-for-folder", NEW, edit("kind: InferenceWorkload", "kind: Project"),
     f"{NEW}:2:7: kind:", "does not belong here"),
    ("wrong-type", NEW, edit("maxReplicas: 1}", 'maxReplicas: "three"}'),
     f"{NEW}:12:42: spec.scaling.maxReplicas:", "must be an integer"),
    ("unknown-field", NEW, edit("  scaling:", "  scalling:"),
     f"{NEW}:12:3: spec.scalling:", "unknown field 'scalling' [hint: did you mean 'scaling'?]"),
    ("missing-required", NEW, edit('  store: {uri: "s3://a/b"}\n', ""),
     f"{NEW}:7:3: spec.store:", "missing required field 'store'"),  # spec's mapping starts at line 7 col 3
    ("invalid-name", NEW, edit("name: x", "name: Llama_8B"),
     f"{NEW}:4:9: metadata.name:", "'Llama_8B' is not a valid workload name"),
    ("duplicate-workload", NEW, edit("  name: x\n  project: research", "  name: llama-8b-chat\n  project: chat"),
     f"{NEW}:4:9: metadata.name:", "duplicate workload name 'llama-8b-chat' in project chat"),
    ("unknown-project", NEW, edit("project: research", "project: nosuch"),
     f"{NEW}:5:12: metadata.project:", "unknown project 'nosuch'"),
    ("invalid-quantity", NEW, edit("{template: small}", '{cpu: "4", memory: "16 GiB"}'),
     f"{NEW}:11:31: spec.compute.memory:", "is not a Kubernetes quantity"),  # "  compute: {cpu: "4", memory: "
    ("literal-ngc-key", NEW, edit("  project: research\n", f"  project: research\n  annotations: {{token: {NGC_KEY}}}\n"),
     f"{NEW}:6:24: metadata.annotations.token:", "literal NGC API key"),  # "  annotations: {token: "
    ("unknown-compute-template", NEW, edit("template: small", "template: h100-x4"),
     f"{NEW}:11:23: spec.compute.template:", "unknown compute template 'h100-x4'"),
    ("unknown-catalog-version", NEW, edit('version: "1.1.2"', 'version: "9.9.9"'),
     f"{NEW}:7:53: spec.model.version:", "has no version '9.9.9'"),
    ("store-two-kinds", NEW, edit('{uri: "s3://a/b"}', '{uri: "s3://a/b", pvc: {claim: c, path: /m}}'),
     f"{NEW}:10:10: spec.store:", "set exactly one of ngc, pvc or uri"),
    ("max-below-min", NEW, edit("{minReplicas: 1, maxReplicas: 1}",
                                "{minReplicas: 3, maxReplicas: 2, metric: concurrency, target: 8}"),
     f"{NEW}:12:42: spec.scaling.maxReplicas:", "must be >= minReplicas (3)"),
    ("bad-enum-in-environment", "environments/prod/environment.yaml",
     edit("autoscaling: {backend: keda}", "autoscaling: {backend: kedaa}",
          (FIXTURE / "environments/prod/environment.yaml").read_text()),
     "environments/prod/environment.yaml:7:26: spec.autoscaling.backend:", "'kedaa' is not one of"),
    ("bad-compute-template-file", "templates/compute/small.yaml", textwrap.dedent("""\
        apiVersion: nimgen.dev/v1alpha1
        kind: ComputeTemplate
        metadata: {name: small}
        spec: {cpu: "4", memory: 32Gi, gpus: -1}
        """),
     "templates/compute/small.yaml:4:38: spec.gpus:", "less than the minimum of 1"),
    # Issue 7: what a cluster could not run is refused where the input asks for it.
    ("scale-to-zero-without-waking-path", NEW,
     edit("{minReplicas: 1, maxReplicas: 1}", "{minReplicas: 0, maxReplicas: 2, metric: concurrency, target: 4, scaleToZero: {afterSeconds: 60}}"),
     f"{NEW}:12:26: spec.scaling.minReplicas:", "environment prod sets no autoscaling.scaleFromZero"),
    ("token-secret-for-an-object-store", NEW, edit('{uri: "s3://a/b"}', '{uri: {url: "s3://a/b", tokenSecret: hf}}'),
     f"{NEW}:10:47: spec.store.uri.tokenSecret:", "a token Secret is for hf:// URIs, not s3://"),
    ("latency-on-the-hpa-backend", STAGING_NEW, edit("{minReplicas: 1, maxReplicas: 1}", "{minReplicas: 1, maxReplicas: 2, metric: latency, target: 500}"),
     f"{STAGING_NEW}:12:53: spec.scaling.metric:", "the hpa backend compares a pod metric as an average"),
    ("latency-on-knative", DEV_NEW, edit("{minReplicas: 1, maxReplicas: 1}", "{minReplicas: 1, maxReplicas: 2, metric: latency, target: 500}"),
     f"{DEV_NEW}:12:53: spec.scaling.metric:", "Knative's autoscaler counts requests and cannot scale on latency"),
    ("exposed-workload-woken-by-the-http-add-on", STAGING_NEW,
     edit("{minReplicas: 1, maxReplicas: 1}", "{minReplicas: 0, maxReplicas: 2, metric: concurrency, target: 4, scaleToZero: {afterSeconds: 60}}",
          edit("{type: clusterLocal}", "{type: authenticated}")),
     f"{STAGING_NEW}:9:18: spec.access.type:", "wakes only for callers inside the cluster"),
    ("knative-mode-woken-by-the-http-add-on", "environments/dev/environment.yaml",
     edit("scaleFromZero: {via: knative}", "scaleFromZero: {via: keda-http}", (FIXTURE / "environments/dev/environment.yaml").read_text()),
     "environments/dev/environment.yaml:8:56: spec.autoscaling.scaleFromZero.via:", "Knative's activator wakes workloads"),
    # Layering: an error in an environment override points at the override, not at the base it is merged over.
    ("override-wrong-type", PROD_OVERRIDE, textwrap.dedent("""\
        apiVersion: nimgen.dev/v1alpha1
        kind: InferenceWorkload
        metadata: {name: llama-8b-chat, project: chat}
        spec:
          compute: {template: h100-x1}
          scaling: {minReplicas: 2, maxReplicas: 6, metric: concurrency, target: "eight"}
        """),
     f"{PROD_OVERRIDE}:6:74: spec.scaling.target:", "must be a number"),
    ("override-unknown-catalog-version", DEV_OVERRIDE, textwrap.dedent("""\
        apiVersion: nimgen.dev/v1alpha1
        kind: InferenceWorkload
        metadata: {name: llama-8b-chat, project: chat}
        spec:
          model: {version: "9.9.9"}
        """),
     f"{DEV_OVERRIDE}:5:20: spec.model.version:", "has no version '9.9.9'"),
    ("override-unknown-node-pool", DEV_OVERRIDE, textwrap.dedent("""\
        apiVersion: nimgen.dev/v1alpha1
        kind: InferenceWorkload
        metadata: {name: llama-8b-chat, project: chat}
        spec:
          scheduling: {nodePools: [h100-reserved]}
        """),
     f"{DEV_OVERRIDE}:5:28: spec.scheduling.nodePools[0]:", "unknown node pool 'h100-reserved'"),
    # ... and an error in the base file points at the base file.
    ("base-unknown-field", BASE_CHAT, edit("scheduling: {nodePools: [l40s]}", "scheduling: {nodePools: [l40s], nodeTpye: x}",
                                           BASE_CHAT_TEXT),
     f"{BASE_CHAT}:17:35: spec.scheduling.nodeTpye:", "unknown field 'nodeTpye' [hint: did you mean 'nodeType'?]"),
    ("base-unknown-data-source", BASE_CHAT, edit("dataSource: nim-cache}", "dataSource: nim-cashe}", BASE_CHAT_TEXT),
     f"{BASE_CHAT}:14:48: spec.store.ngc.cache.dataSource:", "unknown data source 'nim-cashe'"),
]


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def assert_clean_failure(root: Path, before: dict[str, bytes], result) -> None:
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert snapshot(root / "out") == before, "a failed build must leave out/ byte-for-byte unchanged"


@pytest.mark.parametrize(("rel", "text", "prefix", "phrase"),
                         [pytest.param(*row[1:], id=row[0]) for row in CASES])
def test_bad_input_is_reported_at_its_position(built: Path, rel: str, text: str, prefix: str, phrase: str) -> None:
    before = snapshot(built / "out")
    write(built, rel, text)
    result = run(built, "build")
    assert_clean_failure(built, before, result)
    lines = [line for line in result.stderr.splitlines() if line.startswith(prefix + " ")]
    assert lines, f"no line starts with {prefix!r}:\n{result.stderr}"
    assert any(phrase in line for line in lines), f"{phrase!r} not in {lines}"
    assert re.search(r"^nimgen: \d+ error\(s\); out/ was not changed$", result.stderr, re.M)


def test_the_table_has_enough_cases() -> None:
    assert len(CASES) >= 14
    assert len({row[0] for row in CASES}) == len(CASES)


def test_literal_ngc_key_is_not_echoed(built: Path) -> None:
    write(built, NEW, dict((row[0], row[2]) for row in CASES)["literal-ngc-key"])
    result = run(built, "build")
    assert result.exit_code == 1
    assert "literal NGC API key" in result.stderr
    assert NGC_KEY not in result.stdout + result.stderr
    assert NGC_KEY[6:] not in result.stdout + result.stderr


# Four independent errors in four files (none depends on another, none in a base file).
MULTI = {
    "environments/prod/workloads/a.yaml": (edit("name: x", "name: a", edit("maxReplicas: 1}", 'maxReplicas: "three"}')),
                                           "environments/prod/workloads/a.yaml:12:42: spec.scaling.maxReplicas:"),
    "environments/staging/workloads/b.yaml": (edit("name: x", "name: B_b"),
                                              "environments/staging/workloads/b.yaml:4:9: metadata.name:"),
    "environments/dev/workloads/c.yaml": ("- 1\n", "environments/dev/workloads/c.yaml:1:1: $:"),
    "environments/staging/workloads/llama-8b-chat.yaml": (textwrap.dedent("""\
        apiVersion: nimgen.dev/v1alpha1
        kind: InferenceWorkload
        metadata: {name: llama-8b-chat, project: chat, lables: {app: chat}}
        spec:
          scaling: {minReplicas: 0, maxReplicas: 2, metric: throughput, target: 20, scaleToZero: {afterSeconds: 600}}
        """), "environments/staging/workloads/llama-8b-chat.yaml:3:48: metadata.lables:"),
}


@pytest.fixture
def broken(built: Path) -> tuple[Path, dict[str, bytes]]:
    before = snapshot(built / "out")
    for rel, (text, _) in MULTI.items():
        write(built, rel, text)
    return built, before


def test_all_errors_of_all_files_are_reported_in_one_run(broken) -> None:
    root, before = broken
    result = run(root, "build")
    assert_clean_failure(root, before, result)
    lines = result.stderr.splitlines()
    assert lines[-1] == f"nimgen: {len(MULTI)} error(s); out/ was not changed"
    problems = lines[:-1]
    assert len(problems) == len(MULTI), result.stderr
    for _, prefix in MULTI.values():
        assert sum(line.startswith(prefix + " ") for line in problems) == 1, (prefix, result.stderr)


def test_format_json(broken) -> None:
    root, before = broken
    result = run(root, "--format", "json", "build")
    assert_clean_failure(root, before, result)
    problems = json.loads(result.stderr)
    assert isinstance(problems, list) and len(problems) == len(MULTI)
    for problem in problems:
        assert set(problem) == {"file", "line", "column", "path", "message", "hint", "severity"}
        assert problem["severity"] == "error"
        assert isinstance(problem["line"], int) and isinstance(problem["column"], int)
        assert problem["hint"] is None or isinstance(problem["hint"], str)
    found = {f"{p['file']}:{p['line']}:{p['column']}: {p['path']}:" for p in problems}
    assert found == {prefix for _, prefix in MULTI.values()}
    by_path = {p["path"]: p for p in problems}
    assert "must be an integer" in by_path["spec.scaling.maxReplicas"]["message"]
    assert by_path["metadata.lables"]["hint"] == "did you mean 'labels'?"


def test_format_github(broken) -> None:
    root, before = broken
    result = run(root, "--format", "github", "build")
    assert_clean_failure(root, before, result)
    lines = result.stderr.splitlines()
    assert len(lines) == len(MULTI), result.stderr
    assert ("::error file=environments/prod/workloads/a.yaml,line=12,col=42::"
            "spec.scaling.maxReplicas: must be an integer") in result.stderr
    for line in lines:
        assert re.fullmatch(r"::error file=[^,]+,line=\d+,col=\d+::\S.*", line), line
    files = {re.match(r"::error file=([^,]+),", line).group(1) for line in lines}
    assert files == set(MULTI)
