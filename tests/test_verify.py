"""Verify: rendered objects are checked before anything lands, in-process and with kubeconform when present."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import run, snapshot
from nimgen.verify.schemas import schema_version, verify_object


def test_schema_version_is_the_newest_bundled_not_newer_than_the_environment():
    assert schema_version("1.33") == "1.33.0"
    assert schema_version("1.99").startswith("1.")


def test_core_kind_typo_is_caught_by_the_strict_schema():
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "x", "namespace": "n"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resource": {"requests": {"storage": "1Gi"}}}}
    problems = verify_object(pvc, "1.33")
    assert problems and "resource" in problems[0][1]


def test_crd_kind_typo_is_caught_by_the_projects_crd_schema():
    obj = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x", "namespace": "n"},
           "spec": {"scaleTargetRef": {"name": "x-predictor"}, "minReplicaCount": 0, "maxReplicaCount": 2,
                    "triggers": [{"type": "prometheus", "metadata": {"serverAddress": "http://p:9090", "query": "up"}}]}}
    problems = verify_object(obj, "1.33")
    assert any("threshold" in message for _, message in problems)


def test_unknown_kind_has_no_schema():
    assert verify_object({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}, "1.33") == \
        [((), "no schema for example.com/v1 Widget")]


def test_environment_name_must_match_its_folder(built: Path):
    path = built / "environments" / "staging" / "environment.yaml"
    path.write_text(path.read_text().replace("metadata: {name: staging}", "metadata: {name: stage}"))
    result = run(built, "build")
    assert result.exit_code == 1
    assert "environments/staging/environment.yaml:3:18: metadata.name: environment name 'stage' does not match" in result.stderr


def fake_kubeconform(folder: Path, exit_code: int, stdout: str) -> None:
    script = folder / "kubeconform"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {folder}/args\ncat <<'EOF'\n{stdout}\nEOF\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_kubeconform_on_path_runs_with_the_same_schemas(built: Path, tmp_path: Path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake_kubeconform(bindir, 0, '{"resources": []}')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    # a cold build must verify every file, so kubeconform runs
    assert run(built, "build", "--no-cache").exit_code == 0
    args = (bindir / "args").read_text()
    assert "-strict" in args and "-kubernetes-version 1.33.0" in args
    assert "schemas/k8s-crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" in args
    assert "-local-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json" in args


def test_kubeconform_failure_fails_the_build_and_keeps_out(built: Path, tmp_path: Path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    report = '{"resources": [{"filename": "x.yaml", "kind": "InferenceService", "name": "llama-8b-chat", "status": "statusInvalid", "msg": "bad field"}]}'
    fake_kubeconform(bindir, 1, report)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    before = snapshot(built / "out")
    result = run(built, "build", "--no-cache")
    assert result.exit_code == 1
    assert "kubeconform: InferenceService llama-8b-chat: bad field" in result.stderr
    assert snapshot(built / "out") == before
