"""`nimgen plan` is a reviewer's summary of a change (added, changed and removed workloads in the terms that
matter, the projects' GPU use, warnings, a loud line for destructive changes) in every format; `nimgen diff`
prints the files; `check` and `plan` print the build's warnings; `--format` goes before or after the command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run
from meaning import ONE_GPU, add_datasource, add_environment, add_project, add_workload, bare_repo

CACHED = {**ONE_GPU, "store": {"ngc": {"secret": "ngc-api", "cache": {"dataSource": "cache"}}}}


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built repository, then a change on top of it that is not built: one workload added, one changed (more
    replicas, exposed to every authenticated user), one removed (with its cache claim), and a project whose peak
    now exceeds its limit (a warning)."""
    root = bare_repo(tmp_path_factory.mktemp("plan") / "repo")
    add_datasource(root, "cache", {"pvc": {"size": "100Gi"}})
    add_environment(root, "e", {})
    add_project(root, "e", "team", {"gpus": 4})
    add_workload(root, "e", "team", "steady", ONE_GPU)
    add_workload(root, "e", "team", "grows", {**ONE_GPU, "access": {"type": "clusterLocal"}})
    add_workload(root, "e", "team", "leaves", CACHED)
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    (root / "environments" / "e" / "workloads" / "leaves.yaml").unlink()
    add_workload(root, "e", "team", "grows", {**ONE_GPU, "access": {"type": "authenticated"},
                                              "scaling": {"minReplicas": 1, "maxReplicas": 2, "metric": "concurrency",
                                                          "target": 4}})
    add_workload(root, "e", "team", "arrives", {**ONE_GPU, "scaling": {"minReplicas": 1, "maxReplicas": 3,
                                                                      "metric": "concurrency", "target": 4}})
    return root


def test_plan_text_names_each_change_in_a_reviewers_terms(changed):
    result = run(changed, "plan")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "environment e" in out
    assert "  + team/arrives: meta/llama-3.1-8b-instruct:1.1.2, vllm-fp16-tp1 (name), 1 GPU x 1-3 replicas on NVIDIA-L40S" in out
    assert "  - team/leaves:" in out
    assert "  ~ team/grows:" in out
    assert "      replicas: 1-1 -> 1-2" in out
    assert "      access: clusterLocal -> authenticated" in out
    assert "      scaling: fixed -> hpa: num_requests_running 4 per replica" in out
    assert "team/steady" not in out                               # unchanged: not listed
    assert "project team: GPUs guaranteed 3 -> 3, peak 3 -> 6 (quota 4, limit 4)" in out
    assert "nimgen plan: 1 added, 1 changed, 1 removed;" in out


def test_plan_says_loudly_what_is_destructive(changed):
    out = run(changed, "plan").stdout
    loud = [line for line in out.splitlines() if "DESTRUCTIVE" in line]
    assert any("deletes PersistentVolumeClaim team/leaves-nim-cache: its data is lost" in line for line in loud)
    assert any("widens the exposure of team/grows: clusterLocal -> authenticated" in line for line in loud)
    assert any("project team exceeds its GPU limit at peak: 6 of 4" in line for line in loud)
    assert any("exposes team/arrives" in line for line in loud) is False     # arrives stays clusterLocal


def test_plan_shows_the_builds_warnings_in_every_format(changed):
    for fmt in ("text", "json", "github", "markdown"):
        out = run(changed, "plan", "--format", fmt).stdout
        assert "peak" in out and "limit" in out, fmt
    found = json.loads(run(changed, "plan", "--format", "json").stdout)
    assert any(w["severity"] == "warning" and w["path"].startswith("spec.scaling") or "limit" in w["message"]
               for w in found["warnings"])


def test_plan_json_carries_the_same_review(changed):
    found = json.loads(run(changed, "--format", "json", "plan").stdout)   # --format before the command
    assert found["counts"] == {"added": 1, "changed": 1, "removed": 1}
    (env,) = found["environments"]
    by_name = {w["workload"]: w for w in env["workloads"]}
    assert by_name["team/grows"]["status"] == "changed"
    assert {"field": "replicas", "before": "1-1", "after": "1-2"} in by_name["team/grows"]["fields"]
    assert by_name["team/arrives"]["source"] == "environments/e/workloads/arrives.yaml"
    assert any("deletes PersistentVolumeClaim team/leaves-nim-cache" in d for d in env["destructive"])
    assert found["destructive"] == len(env["destructive"])


def test_plan_markdown_fits_a_pull_request_comment(changed):
    out = run(changed, "plan", "--format", "markdown").stdout
    assert out.startswith("## nimgen plan\n")
    assert "> [!CAUTION]" in out and "deletes PersistentVolumeClaim team/leaves-nim-cache" in out
    assert "| added | `team/arrives` |" in out and "| removed | `team/leaves` |" in out
    assert "<details><summary>What changes</summary>" in out and "| replicas | 1-1 | 1-2 |" in out
    assert "| team | 4 | 4 | 3 → 3 | 3 → 6 |" in out


def test_plan_github_annotates_the_input_that_changed(changed):
    out = run(changed, "plan", "--format", "github").stdout
    assert "::notice file=environments/e/workloads/arrives.yaml,line=1,title=nimgen plan::e: added team/arrives" in out
    assert "::warning file=environments/e/environment.yaml,line=1,title=nimgen plan::e: destructive: deletes PersistentVolumeClaim" in out
    assert out.rstrip().splitlines()[-1].startswith("::notice title=nimgen plan::nimgen plan: 1 added")


def test_plan_writes_nothing(changed):
    before = {p: p.read_bytes() for p in (changed / "out").rglob("*") if p.is_file()}
    run(changed, "plan")
    assert {p: p.read_bytes() for p in (changed / "out").rglob("*") if p.is_file()} == before


def test_plan_of_an_unchanged_repository_says_nothing_changed(tmp_path):
    root = bare_repo(tmp_path / "repo")
    add_environment(root, "e", {})
    add_project(root, "e", "team", {"gpus": 4})
    add_workload(root, "e", "team", "w", ONE_GPU)
    assert run(root, "build").exit_code == 0
    out = run(root, "plan").stdout
    assert out == "nimgen plan: 0 added, 0 changed, 0 removed; 0 file(s) would change\n"


def test_diff_prints_changed_new_and_deleted_files_whole(changed):
    result = run(changed, "diff", "--env", "e")
    assert result.exit_code == 0
    out = result.stdout
    assert "missing: out/e/serve/team/arrives.yaml\n--- /dev/null\n+++ out/e/serve/team/arrives.yaml (fresh build)" in out
    assert "extra: out/e/serve/team/leaves.yaml\n--- out/e/serve/team/leaves.yaml (committed)\n+++ /dev/null" in out
    assert "+kind: InferenceService" in out and "-kind: InferenceService" in out
    assert "changed: out/e/serve/team/grows.yaml" in out
    assert out.rstrip().endswith("file(s) would change")


def test_check_prints_the_builds_warnings_and_fails_on_a_difference(changed):
    result = run(changed, "check")
    assert result.exit_code == 1
    assert "warning:" in result.stderr and "limit" in result.stderr
    assert "changed: out/e/serve/team/grows.yaml" in result.stdout


def test_an_unknown_environment_is_refused_by_every_command(changed):
    for command in ("plan", "diff", "check", "build"):
        result = run(changed, command, "--env", "nope")
        assert result.exit_code == 1 and "unknown environment 'nope'" in result.stderr, command


def test_version(tmp_path):
    result = run(tmp_path, "--version")
    assert result.exit_code == 0 and result.stdout.startswith("nimgen, version ")


def test_without_nodejs_a_build_that_must_render_says_so_in_one_line(tmp_path, monkeypatch):
    root = bare_repo(tmp_path / "repo")
    add_environment(root, "e", {})
    add_project(root, "e", "team", {"gpus": 4})
    add_workload(root, "e", "team", "w", ONE_GPU)
    assert run(root, "validate").exit_code == 0
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run(root, "build", "--no-cache")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "nimgen: Node.js 20 or later is required to render manifests (cdk8s runs on it), and no 'node' is on PATH: "
        "install it, e.g. from https://nodejs.org"]
    assert run(root, "validate").exit_code == 0                 # no Node.js needed where nothing is constructed
    assert not (root / "out" / "e").exists()
    shutil.rmtree(root / ".nimgen", ignore_errors=True)
