"""Hostile inputs ("Never a traceback"): what a fuzz run of mutated inputs found, each now a located user error.

Every failing case checks the exact message a user gets (FILE:LINE:COL: PATH: message), exit 1, no traceback and
out/ byte-identical, on a copy of the built test repository (the `built` fixture), like tests/test_errors.py.
Positions are computed from the text written (`at`: the line and column of a token), not counted by hand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from conftest import NEW_WORKLOAD, PROJECT, VALID_WORKLOAD, run, snapshot
from nimgen.diagnostics import Diagnostic
from nimgen.inputs.load import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES
from nimgen.inputs.validate import kubernetes_versions
from nimgen.report.diagnostics import render

NEW = NEW_WORKLOAD
VALID = VALID_WORKLOAD
NGC_KEY = "nvapi-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghijklmnopqrstuvwx"
ENVIRONMENT = "environments/prod/environment.yaml"
FIXTURE_ENV = textwrap.dedent("""\
    apiVersion: nimgen.dev/v1alpha1
    kind: Environment
    metadata: {name: prod}
    spec:
      kubernetesVersion: "1.33"
      scheduler: {name: kai, priorityClassName: inference}
      storage: {defaultClass: premium-rwo, sharedClass: netapp-rwx}
    """)


def edit(old: str, new: str, text: str = VALID) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def at(text: str, token: str, nth: int = 0) -> str:
    """'LINE:COL' (1-based) of the nth occurrence of `token` in `text`."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(token, index + 1)
    before = text[:index]
    return f"{before.count(chr(10)) + 1}:{index - before.rfind(chr(10))}"


def write(root: Path, rel: str, content: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def failing_build(root: Path, *args: str) -> str:
    """Run `nimgen build` (after `args`, e.g. a format) that must fail cleanly; return its stderr."""
    before = snapshot(root / "out")
    result = run(root, *args, "build")
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert "Traceback" not in output
    assert snapshot(root / "out") == before, "a failed build must leave out/ byte-for-byte unchanged"
    return result.stderr


def assert_reported(stderr: str, location: str, message: str) -> None:
    """A line `location: message` (an optional ' [hint: ...]' after it), the location being FILE:LINE:COL: PATH."""
    expected = f"{location}: {message}"
    lines = stderr.splitlines()
    assert any(line == expected or line.startswith(expected + " [hint: ") for line in lines), \
        f"no line {expected!r} in:\n{stderr}"


LONG = "a" * 300
LABEL_64 = "b" * 64
TAG_MESSAGE = "is not supported: input values are strings, numbers, booleans, null, lists and mappings"

# (id, file, text written, path of the reported field, token the position points at, message)
CASES = [
    # 1. loading: bounded work, every limit a located error
    ("recursive-merge-key", NEW, edit("{template: small}", "&c {template: small, <<: *c}"),
     "spec.compute.<<", "*c", "alias *c refers to the value that contains it (a recursive alias)"),
    ("recursive-alias", NEW, edit("{template: small}", "&c {template: small, x: [*c]}"),
     "spec.compute.x[0]", "*c", "alias *c refers to the value that contains it (a recursive alias)"),
    ("undefined-alias", NEW, edit("{template: small}", "*nothing"),
     "spec.compute", "*nothing", "alias *nothing refers to no anchor &nothing written before it"),
    ("kind-as-a-list", NEW, edit("kind: InferenceWorkload", "kind: [InferenceWorkload]"),
     "kind", "[InferenceWorkload]", 'kind must be a string, found a list (["InferenceWorkload"])'),
    ("kind-as-a-set", NEW, edit("kind: InferenceWorkload", "kind: !!set {InferenceWorkload}"),
     "kind", "!!set", f"the tag !!set {TAG_MESSAGE}"),
    ("explicit-invalid-timestamp", NEW, edit("  project: research\n", "  project: research\n  annotations: {at: !!timestamp 2024-13-45}\n"),
     "metadata.annotations.at", "!!timestamp", f"the tag !!timestamp {TAG_MESSAGE}"),
    ("binary", NEW, edit("  project: research\n", "  project: research\n  annotations: {at: !!binary aGVsbG8=}\n"),
     "metadata.annotations.at", "!!binary", f"the tag !!binary {TAG_MESSAGE}"),
    ("custom-tag", NEW, edit("name: x", "name: !python/object x"),
     "metadata.name", "!python", f"the tag !python/object {TAG_MESSAGE}"),
    ("int-tag-not-an-int", NEW, edit("maxReplicas: 1}", "maxReplicas: !!int two}"),
     "spec.scaling.maxReplicas", "!!int", "'two' cannot be read as !!int"),
    ("bool-tag-not-a-bool", NEW, edit("kind: InferenceWorkload\n", "kind: InferenceWorkload\nenabled: !!bool maybe\n"),
     "enabled", "!!bool", "'maybe' cannot be read as !!bool"),
    ("huge-integer", NEW, edit("maxReplicas: 1}", "maxReplicas: " + "9" * 5000 + "}"),
     "spec.scaling.maxReplicas", "9999", "'9999999999999999999999999999999999999999...' cannot be read as !!int"),
    ("control-character", NEW, edit("name: x", "name: x\x1b[31m"),
     "$", "\x1b", "the character U+001B is not allowed in an input file"),
    ("byte-order-mark-inside", NEW, edit("kind:", "\ufeffkind:"),
     "$", "\ufeff", "a byte order mark (U+FEFF) is allowed only at the start of a file"),
    # 2. validation: special floats, quantities Kubernetes cannot hold, versions nimgen has no schemas for
    ("infinite-target", NEW, edit("{minReplicas: 1, maxReplicas: 1}", "{minReplicas: 1, maxReplicas: 2, metric: concurrency, target: .inf}"),
     "spec.scaling.target", ".inf", "found .inf: nimgen accepts only finite numbers"),
    ("nan-cpu", NEW, edit("{template: small}", "{cpu: .nan, memory: 8Gi}"),
     "spec.compute.cpu", ".nan", "found .nan: nimgen accepts only finite numbers"),
    ("negative-infinite-memory", NEW, edit("{template: small}", "{cpu: 1, memory: -.inf}"),
     "spec.compute.memory", "-.inf", "found -.inf: nimgen accepts only finite numbers"),
    ("infinite-preference-weight", NEW, edit("{template: small}", "{template: small}\n  scheduling: {nodeAffinity: {preferred: [{weight: .inf, matchExpressions: [{key: a, operator: Exists}]}]}}"),
     "spec.scheduling.nodeAffinity.preferred[0].weight", ".inf", "found .inf: nimgen accepts only finite numbers"),
    ("quantity-8Ei", NEW, edit("{template: small}", "{cpu: 1, memory: 8Ei}"),
     "spec.compute.memory", "8Ei", "'8Ei' is too large: Kubernetes holds quantities as int64 milli-units, at most 9223372036854775 (about 8 Pi)"),
    ("quantity-finer-than-milli", NEW, edit("{template: small}", "{cpu: 100u, memory: 8Gi}"),
     "spec.compute.cpu", "100u", "'100u' is finer than Kubernetes' smallest unit of a quantity, 1m (one thousandth)"),
    # 3. Kubernetes limits at the field that breaks them
    ("label-key-prefix-300", NEW, edit("  project: research\n", f"  project: research\n  labels: {{{LONG}.io/x: y}}\n"),
     f"metadata.labels.{LONG}.io/x", f"{LONG}.io/x", f"'{LONG[:97]}...' is not a valid label key"),
    ("label-key-name-64", NEW, edit("  project: research\n", f"  project: research\n  labels: {{{LABEL_64}: y}}\n"),
     f"metadata.labels.{LABEL_64}", LABEL_64, f"'{LABEL_64}' is not a valid label key"),
    ("label-value-64", NEW, edit("  project: research\n", f"  project: research\n  labels: {{team: {LABEL_64}}}\n"),
     "metadata.labels.team", LABEL_64,
     f"'{LABEL_64}' is not a valid label value (at most 63 characters: letters, digits, '-', '_', '.')"),
    ("annotation-key", NEW, edit("  project: research\n", "  project: research\n  annotations: {-bad: y}\n"),
     "metadata.annotations.-bad", "-bad", "'-bad' is not a valid annotation key"),
    ("annotations-too-large", NEW, edit("  project: research\n", "  project: research\n  annotations: {note: " + "x" * 260_000 + "}\n"),
     "metadata.annotations", "{note", "keys and values total 260004 bytes, more than the 253952 bytes (248 KiB) nimgen accepts here"),
    ("storage-class", ENVIRONMENT, edit("defaultClass: premium-rwo", "defaultClass: Premium_RWO", FIXTURE_ENV),
     "spec.storage.defaultClass", "Premium_RWO",
     "'Premium_RWO' is not a valid name: use a DNS subdomain (lower-case letters, digits, '-' and '.', at most 253 "
     "characters, each part starting and ending with a letter or digit)"),
    ("priority-class", ENVIRONMENT, edit("priorityClassName: inference", "priorityClassName: Inference", FIXTURE_ENV),
     "spec.scheduler.priorityClassName", "Inference",
     "'Inference' is not a valid name: use a DNS subdomain (lower-case letters, digits, '-' and '.', at most 253 "
     "characters, each part starting and ending with a letter or digit)"),
    ("toleration-exists-with-value", NEW, edit("{template: small}", "{template: small}\n  scheduling: {tolerations: [{key: a, operator: Exists, value: b}]}"),
     "spec.scheduling.tolerations[0]", "{key: a", "operator Exists takes no value"),
    ("toleration-equal-without-key", NEW, edit("{template: small}", "{template: small}\n  scheduling: {tolerations: [{operator: Equal, value: b}]}"),
     "spec.scheduling.tolerations[0].operator", "Equal",
     "a toleration without a key tolerates every taint: its operator must be Exists, found 'Equal'"),
    ("toleration-effect", NEW, edit("{template: small}", "{template: small}\n  scheduling: {tolerations: [{key: a, effect: Sometimes}]}"),
     "spec.scheduling.tolerations[0].effect", "Sometimes", "'Sometimes' is not one of: NoSchedule, PreferNoSchedule, NoExecute"),
    ("toleration-seconds-without-no-execute", NEW, edit("{template: small}", "{template: small}\n  scheduling: {tolerations: [{key: a, effect: NoSchedule, tolerationSeconds: 5}]}"),
     "spec.scheduling.tolerations[0].effect", "NoSchedule", "tolerationSeconds applies only to effect NoExecute, found 'NoSchedule'"),
    ("toleration-key", NEW, edit("{template: small}", "{template: small}\n  scheduling: {tolerations: [{key: -a, operator: Exists}]}"),
     "spec.scheduling.tolerations[0].key", "-a", "'-a' is not a valid toleration key (a label key)"),
    ("affinity-in-without-values", NEW, edit("{template: small}", "{template: small}\n  scheduling: {nodeAffinity: {required: [{key: a, operator: In}]}}"),
     "spec.scheduling.nodeAffinity.required[0].values", "{key: a", "operators In and NotIn need values"),
    ("affinity-exists-with-values", NEW, edit("{template: small}", "{template: small}\n  scheduling: {nodeAffinity: {required: [{key: a, operator: Exists, values: [b]}]}}"),
     "spec.scheduling.nodeAffinity.required[0].values", "[b]", "operators Exists and DoesNotExist take no values"),
    ("affinity-gt-two-values", NEW, edit("{template: small}", "{template: small}\n  scheduling: {nodeAffinity: {required: [{key: a, operator: Gt, values: [\"1\", \"2\"]}]}}"),
     "spec.scheduling.nodeAffinity.required[0].values", "[\"1\"", "operators Gt and Lt need exactly one integer value"),
    ("affinity-lt-not-an-integer", NEW, edit("{template: small}", "{template: small}\n  scheduling: {nodeAffinity: {required: [{key: a, operator: Lt, values: [x]}]}}"),
     "spec.scheduling.nodeAffinity.required[0].values[0]", "x]", "'x' is not an integer: operators Gt and Lt compare numbers"),
    ("pvc-path-escapes-the-volume", NEW, edit('{uri: "s3://a/b"}', "{pvc: {claim: c, path: /a/../../etc}}"),
     "spec.store.pvc.path", "/a/..",
     "'/a/../../etc' is not a path inside the claim: an absolute path (/a/b) without '.' or '..' parts, empty parts "
     "or control characters, at most 1024 characters"),
    ("pvc-uri-escapes-the-volume", NEW, edit('"s3://a/b"', '"pvc://claim/../other"'),
     "spec.store.uri", '"pvc:', "uri is a storage URI or {url, serviceAccount, tokenSecret}"),
    ("secret-name", NEW, edit('{uri: "s3://a/b"}', "{ngc: {secret: NGC_Key}}"),
     "spec.store.ngc.secret", "NGC_Key",
     "'NGC_Key' is not a valid name: use a DNS label (lower-case letters, digits and '-', at most 63 characters, "
     "starting and ending with a letter or digit)"),
    ("workload-name-64", NEW, edit("name: x", "name: " + "w" * 64),
     "metadata.name", "w" * 64,
     f"'{'w' * 64}' is not a valid workload name: use lower-case letters, digits and '-', starting with a letter "
     "and ending with a letter or digit, at most 63 characters"),
    # 4. secrets wherever they are written
    ("ngc-key-as-a-label-key", NEW, edit("  project: research\n", f"  project: research\n  labels: {{{NGC_KEY}: x}}\n"),
     "metadata.labels.nvapi-<redacted>", NGC_KEY,
     "a literal NGC API key (nvapi-...) must never be written in an input file, not even as a mapping key"),
]


@pytest.mark.parametrize(("rel", "text", "path", "token", "message"), [pytest.param(*row[1:], id=row[0]) for row in CASES])
def test_hostile_input_is_a_located_error(built: Path, rel: str, text: str, path: str, token: str, message: str) -> None:
    write(built, rel, text)
    stderr = failing_build(built)
    assert_reported(stderr, f"{rel}:{at(text, token)}: {path}", message)
    assert NGC_KEY not in stderr and NGC_KEY[6:] not in stderr


def test_kubernetes_version_outside_the_bundled_schemas(built: Path) -> None:
    oldest, newest = kubernetes_versions()
    for minor in (oldest - 1, newest + 1):
        text = edit('"1.33"', f'"1.{minor}"', FIXTURE_ENV)
        write(built, ENVIRONMENT, text)
        where = at(text, f'"1.{minor}"')
        assert_reported(failing_build(built), f"{ENVIRONMENT}:{where}: spec.kubernetesVersion",
                        f"Kubernetes 1.{minor} is outside the versions nimgen has schemas for (1.{oldest} to 1.{newest})")


@pytest.mark.parametrize(("content", "location", "message"), [
    (b"\xff\xfea\x00p\x00", "1:1", "file is UTF-16 or UTF-32 (it starts with a byte order mark)"),
    (VALID.replace("name: x", "name: x\xff").encode("latin-1"), "4:10",   # line 4 is '  name: x'
     "file is not UTF-8: byte 0xff is not valid here"),
    (b"\x00\x01\x02junk", "1:1", "the character U+0000 is not allowed in an input file"),
], ids=["utf-16", "junk-byte", "binary-junk"])
def test_bytes_that_are_not_yaml_text(built: Path, content: bytes, location: str, message: str) -> None:
    write(built, NEW, content)
    assert_reported(failing_build(built), f"{NEW}:{location}: $", message)


def test_a_leading_byte_order_mark_is_accepted(built: Path) -> None:
    write(built, NEW, b"\xef\xbb\xbf" + VALID.encode())
    assert run(built, "validate").exit_code == 0


def test_a_file_over_the_size_limit(built: Path) -> None:
    text = VALID + "#" * MAX_FILE_BYTES
    write(built, NEW, text)
    assert_reported(failing_build(built), f"{NEW}:1:1: $",
                    f"file is larger than 1 MiB ({len(text)} bytes): nimgen reads at most {MAX_FILE_BYTES} bytes per "
                    "input file")


def test_plain_dates_stay_the_strings_written(built: Path) -> None:
    """A plain scalar YAML 1.1 reads as a date (valid or not) is the string written, like a quoted one."""
    write(built, NEW, edit("  project: research\n", "  project: research\n  annotations: {since: 2024-01-31, bad: 2024-13-45}\n"))
    result = run(built, "build", "--env", "prod")
    assert result.exit_code == 0, result.stderr
    isvc = [o for o in yaml.safe_load_all((built / "out/prod/serve/research/x.yaml").read_text(), )
            if o["kind"] == "InferenceService"][0]
    assert isvc["metadata"]["annotations"]["since"] == "2024-01-31"
    assert isvc["metadata"]["annotations"]["bad"] == "2024-13-45"


def test_merge_keys_merge_and_written_keys_win(built: Path) -> None:
    text = VALID.replace("  compute: {template: small}\n", "  compute: {<<: {template: nosuch}, template: small}\n")
    write(built, NEW, text)
    result = run(built, "validate", "--env", "prod")
    assert result.exit_code == 0, result.stderr


def test_nesting_1000_deep_is_an_error(built: Path) -> None:
    text = edit("{template: small}", "[" * 1000 + "]" * 1000)
    write(built, NEW, text)
    # root, spec and compute are three levels: the (MAX_DEPTH + 1)-th collection, (MAX_DEPTH - 2) '[' further, is refused
    line, column = at(text, "[").split(":")
    assert_reported(failing_build(built), f"{NEW}:{line}:{int(column) + MAX_DEPTH - 2}: spec.compute" + "[0]" * (MAX_DEPTH - 2),
                    f"values nest deeper than {MAX_DEPTH} levels")


def test_a_billion_laughs_stops_within_seconds(built: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    text = VALID.replace("kind: InferenceWorkload\n", "kind: InferenceWorkload\n" + "\n".join(lines) + "\n")
    write(built, NEW, text)
    start = time.perf_counter()
    stderr = failing_build(built)
    assert time.perf_counter() - start < 10
    # values after a4: 3 (root, apiVersion, kind) + 10 + 91 + 820 + 7381 + 66430 (a0..a4) = 74735; a5's list and
    # its first *a4 take the count past MAX_VALUES
    assert MAX_VALUES == 100_000
    assert_reported(stderr, f"{NEW}:{at(text, '*a4')}: a5[0]",
                    f"the document holds more than {MAX_VALUES} values (aliases expanded)")


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ("{a: ", "}")], ids=["sequences", "mappings"])
def test_nesting_100k_deep_is_an_error_in_a_fresh_process(built: Path, opening: str, closing: str) -> None:
    """A stack overflow kills the process (exit 139); run it apart, with a time limit."""
    text = edit("{template: small}", opening * 100_000 + "1" + closing * 100_000)
    write(built, NEW, text)
    proc = subprocess.run([sys.executable, "-m", "nimgen", "--root", str(built), "validate", "--env", "prod"],
                          cwd=PROJECT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"values nest deeper than {MAX_DEPTH} levels" in proc.stderr


# 4. secrets in file names, and nothing an input writes can forge a diagnostic line or a workflow command

def test_ngc_key_in_a_file_name_is_refused_and_not_echoed(built: Path) -> None:
    write(built, f"environments/prod/workloads/{NGC_KEY}.yaml", VALID)
    stderr = failing_build(built)
    assert_reported(stderr, "environments/prod/workloads/nvapi-<redacted>.yaml:1:1: $",
                    "a literal NGC API key (nvapi-...) must never be part of a file or folder name")
    assert NGC_KEY[6:] not in stderr


FORGED = "x\nforged.yaml:1:1: $: forged\n::error file=forged.yaml::forged\n\x1b[2K"


def test_a_file_name_with_a_newline_is_refused_and_printed_escaped(built: Path) -> None:
    try:
        write(built, f"environments/prod/workloads/{FORGED}.yaml", VALID)
    except OSError:
        pytest.skip("the file system refuses control characters in file names")
    escaped = FORGED.replace("\n", "\\n").replace("\x1b", "\\x1b")
    shown = f"environments/prod/workloads/{escaped}.yaml"
    message = ("a file or folder name with a control character (such as a line break) or bytes that are not UTF-8: "
               "nimgen reads no such input")
    stderr = failing_build(built)
    assert_reported(stderr, f"{shown}:1:1: $", message)
    assert_no_forged_lines(stderr)
    github = failing_build(built, "--format", "github")
    property_ = shown.replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
    assert f"::error file={property_},line=1,col=1::$: {message} (hint: rename it)" in github.splitlines()
    assert_no_forged_lines(github)
    problems = json.loads(failing_build(built, "--format", "json"))
    assert [p["file"] for p in problems] == [shown]


# a key written with YAML escapes: a line break, a fake location, a workflow command and an ANSI escape
ESCAPED_KEY = r'"a\nenvironments/prod/forged.yaml:1:1: $: forged\n::error file=f::forged\e[2K"'


def test_control_characters_of_the_yaml_text_are_printed_escaped(built: Path) -> None:
    text = edit("  project: research\n", f"  project: research\n  {ESCAPED_KEY}: 1\n")
    write(built, NEW, text)
    key = "a\\nenvironments/prod/forged.yaml:1:1: $: forged\\n::error file=f::forged\\x1b[2K"
    stderr = failing_build(built)
    assert_reported(stderr, f"{NEW}:{at(text, ESCAPED_KEY)}: metadata.{key}", f"unknown field '{key}'")
    assert_no_forged_lines(stderr)
    github = failing_build(built, "--format", "github")
    assert_no_forged_lines(github)
    assert all(re.fullmatch(r"::error file=[^,:]+,line=\d+,col=\d+::.*", line) for line in github.splitlines()), github
    problems = json.loads(failing_build(built, "--format", "json"))
    assert [p["message"] for p in problems] == [f"unknown field '{key}'"]


def assert_no_forged_lines(output: str) -> None:
    assert "\x1b" not in output and "\r" not in output
    for line in output.splitlines():
        assert not line.startswith(("forged.yaml", "environments/prod/forged.yaml", "::error file=forged",
                                    "::error file=f:")), line


def test_every_format_escapes_every_part_of_a_diagnostic() -> None:
    d = Diagnostic("a\nb.yaml", 1, 2, "x.\x1b[31m", f"m\r\n{NGC_KEY}\u2028", "h\x85\x07")
    assert d.text() == "a\\nb.yaml:1:2: x.\\x1b[31m: m\\r\\nnvapi-<redacted>\\u2028 [hint: h\\x85\\x07]"
    assert d.github() == "::error file=a\\nb.yaml,line=1,col=2::x.\\x1b[31m: m\\r\\nnvapi-<redacted>\\u2028 (hint: h\\x85\\x07)"
    assert json.loads(render([d], "json")) == [{"file": "a\\nb.yaml", "line": 1, "column": 2, "path": "x.\\x1b[31m",
                                                "message": "m\\r\\nnvapi-<redacted>\\u2028", "hint": "h\\x85\\x07",
                                                "severity": "error"}]
    assert Diagnostic("a,b:c.yaml", 1, 1, "$", "50%").github() == "::error file=a%2Cb%3Ac.yaml,line=1,col=1::$: 50%25"


# 5. files: links inside the repository only, nothing that is not a regular file

def no_absolute_paths(output: str, *paths: Path) -> None:
    for path in paths:
        assert str(path) not in output, f"{path} printed:\n{output}"


def test_a_symlink_to_outside_the_repository_is_refused(built: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "x.yaml"
    outside.parent.mkdir()
    outside.write_text(VALID)
    (built / NEW).symlink_to(outside)
    stderr = failing_build(built)
    assert_reported(stderr, f"{NEW}:1:1: $",
                    "symbolic link to outside the repository: nimgen reads only files inside it")
    no_absolute_paths(stderr, outside, tmp_path)


def test_a_symlinked_folder_outside_the_repository_is_refused(built: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.yaml").write_text(VALID)
    (built / "environments/prod/workloads/more").symlink_to(tmp_path / "elsewhere")
    stderr = failing_build(built)
    assert_reported(stderr, "environments/prod/workloads/more:1:1: $",
                    "symbolic link to outside the repository: nimgen reads only files inside it")
    no_absolute_paths(stderr, tmp_path)


def test_a_symlink_inside_the_repository_is_followed_and_shown_where_it_is(built: Path) -> None:
    write(built, "shared/x.yaml", edit("maxReplicas: 1}", 'maxReplicas: "three"}'))
    (built / NEW).symlink_to(Path("../../../shared/x.yaml"))
    stderr = failing_build(built)
    assert_reported(stderr, f"{NEW}:12:42: spec.scaling.maxReplicas", 'must be an integer, found a string ("three")')


def test_a_dangling_symlink_is_an_error(built: Path, tmp_path: Path) -> None:
    (built / NEW).symlink_to(tmp_path / "nowhere.yaml")
    stderr = failing_build(built)
    assert_reported(stderr, f"{NEW}:1:1: $", "dangling symbolic link: what it points to does not exist")
    no_absolute_paths(stderr, tmp_path)


def test_a_symlink_loop_is_an_error(built: Path) -> None:
    (built / NEW).symlink_to("x.yaml")
    assert_reported(failing_build(built), f"{NEW}:1:1: $", "cannot follow symbolic link: Too many levels of symbolic links")


def test_a_folder_named_like_a_yaml_file_is_refused(built: Path) -> None:
    (built / NEW).mkdir(parents=True)
    assert_reported(failing_build(built), f"{NEW}:1:1: $", "a folder named like a YAML file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("rel", [NEW, "templates/compute/fifo.yaml"])
def test_a_fifo_is_refused_without_being_opened(built: Path, rel: str) -> None:
    os.mkfifo(built / rel)
    proc = subprocess.run([sys.executable, "-m", "nimgen", "--root", str(built), "build"], cwd=PROJECT,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert_reported(proc.stderr, f"{rel}:1:1: $",
                    "a named pipe (FIFO) where an input could be: nimgen reads only regular files")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_symlink_to_a_fifo_is_refused(built: Path) -> None:
    os.mkfifo(built / "pipe")
    (built / NEW).symlink_to(Path("../../../pipe"))
    proc = subprocess.run([sys.executable, "-m", "nimgen", "--root", str(built), "validate"], cwd=PROJECT,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert_reported(proc.stderr, f"{NEW}:1:1: $",
                    "a named pipe (FIFO) where an input could be: nimgen reads only regular files")


# an environment's override of a gallery entry

SHARED_CLAIM = "apiVersion: nimgen.dev/v1alpha1\nkind: DataSource\nmetadata: {name: nim-cache}\nspec: {existingClaim: shared-cache}\n"
PROD_DATA_SOURCE = "environments/prod/templates/datasources/nim-cache.yaml"


def test_an_environment_override_of_a_data_source_is_used(built: Path) -> None:
    """The shared entry holds an existing claim; prod switches to a claim of its own (the spec is one choice)."""
    write(built, "templates/datasources/nim-cache.yaml", SHARED_CLAIM)
    write(built, PROD_DATA_SOURCE, "apiVersion: nimgen.dev/v1alpha1\nkind: DataSource\nmetadata: {name: nim-cache}\n"
                                   "spec:\n  pvc: {size: 777Gi, storageClass: fast}\n")
    result = run(built, "build")
    assert result.exit_code == 0, result.stderr
    prod = list(yaml.safe_load_all((built / "out/prod/serve/chat/llama-8b-chat.yaml").read_text()))
    claims = [o for o in prod if o["kind"] == "PersistentVolumeClaim"]
    assert [(c["spec"]["resources"]["requests"]["storage"], c["spec"]["storageClassName"]) for c in claims] == [("777Gi", "fast")]
    assert "shared-cache" not in (built / "out/prod/serve/chat/llama-8b-chat.yaml").read_text()
    assert "claimName: shared-cache" in (built / "out/staging/serve/chat/llama-8b-chat.yaml").read_text()


def test_an_override_of_a_data_source_is_validated_with_the_entry_it_overrides(built: Path) -> None:
    text = "apiVersion: nimgen.dev/v1alpha1\nkind: DataSource\nmetadata: {name: nim-cache}\nspec:\n  pvc: {storageClass: Fast}\n"
    write(built, PROD_DATA_SOURCE, text)
    stderr = failing_build(built)
    assert_reported(stderr, f"{PROD_DATA_SOURCE}:{at(text, 'Fast')}: spec.pvc.storageClass",
                    "'Fast' is not a valid name: use a DNS subdomain (lower-case letters, digits, '-' and '.', at most "
                    "253 characters, each part starting and ending with a letter or digit)")
    # the spec replaces the shared one as a whole: the size must be restated
    assert_reported(stderr, f"{PROD_DATA_SOURCE}:{at(text, '{storageClass')}: spec.pvc.size", "missing required field 'size'")
