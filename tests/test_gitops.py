"""out/gitops/: an Argo CD ApplicationSet with one Application per environment that sets spec.gitops (its repo,
revision, cluster and prune), and per environment the Flux GitRepository and Kustomizations for prepare/ then
serve/; both pass the upstream schemas and build with kustomize."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conftest import PROJECT, run
from meaning import ONE_GPU, add_environment, add_project, add_workload, bare_repo

REPO = "https://github.com/example/platform.git"
UPSTREAM = PROJECT.parent / "shared" / "crds" / "jsonschema"
GITOPS = {
    "a": {"repoURL": REPO},
    "b": {"repoURL": REPO, "revision": "release", "cluster": "https://b.example.com:6443", "prune": True},
    "c": {"repoURL": REPO, "revision": "0123456789abcdef0123456789abcdef01234567", "cluster": "lab"},
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("gitops") / "repo")
    for env, gitops in GITOPS.items():
        add_environment(root, env, {"gitops": gitops})
        add_project(root, env, "team", {"gpus": 2})
        add_workload(root, env, "team", "w", ONE_GPU)
    add_environment(root, "none", {})                       # no spec.gitops: not synced
    add_project(root, "none", "team", {"gpus": 2})
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return root


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_one_application_per_synced_environment(repo):
    (appset,) = documents(repo / "out" / "gitops" / "argocd" / "applicationset.yaml")
    assert (appset["kind"], appset["metadata"]["namespace"]) == ("ApplicationSet", "argocd")
    (generator,) = appset["spec"]["generators"]
    elements = {e["environment"]: e for e in generator["list"]["elements"]}
    assert sorted(elements) == ["a", "b", "c"]                # never a directory generator: out/gitops is no environment
    assert elements["a"] == {"environment": "a", "repoURL": REPO, "revision": "main", "prune": "false",
                             "cluster": "https://kubernetes.default.svc", "destinationField": "server"}
    assert (elements["b"]["cluster"], elements["b"]["prune"], elements["b"]["revision"]) == \
        ("https://b.example.com:6443", "true", "release")
    assert (elements["c"]["destinationField"], elements["c"]["cluster"]) == ("name", "lab")
    spec = appset["spec"]["template"]["spec"]
    assert spec["source"] == {"repoURL": "{{.repoURL}}", "targetRevision": "{{.revision}}", "path": "out/{{.environment}}"}
    assert spec["syncPolicy"]["syncOptions"] == ["CreateNamespace=false"]
    # the patch Argo CD applies per element: destination by server or by name, and pruning
    patch = yaml.safe_load(appset["spec"]["templatePatch"].replace("{{ .destinationField }}", "server")
                           .replace("{{ .cluster }}", "https://x").replace("{{ .prune }}", "true"))
    assert patch == {"spec": {"destination": {"server": "https://x"},
                              "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}}}


def test_flux_applies_prepare_then_serve_of_each_environment(repo):
    assert sorted(p.name for p in (repo / "out" / "gitops" / "flux").iterdir()) == ["a", "b", "c"]
    objects = {(o["kind"], o["metadata"]["name"]): o for o in documents(repo / "out" / "gitops" / "flux" / "b" / "sync.yaml")}
    source = objects[("GitRepository", "nimgen-b")]["spec"]
    assert source["url"] == REPO and source["ref"] == {"branch": "release"}
    prepare = objects[("Kustomization", "nimgen-b-prepare")]["spec"]
    serve = objects[("Kustomization", "nimgen-b-serve")]["spec"]
    assert prepare["path"] == "./out/b/prepare" and prepare["wait"] is True and prepare["prune"] is True
    assert serve["path"] == "./out/b/serve" and serve["dependsOn"] == [{"name": "nimgen-b-prepare"}]
    assert prepare["sourceRef"] == serve["sourceRef"] == {"kind": "GitRepository", "name": "nimgen-b"}
    commit = {o["kind"]: o for o in documents(repo / "out" / "gitops" / "flux" / "c" / "sync.yaml")}["GitRepository"]
    assert commit["spec"]["ref"] == {"commit": GITOPS["c"]["revision"]}


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="upstream CRD schemas (../shared/crds/jsonschema) not present")
def test_the_gitops_objects_pass_the_upstream_schemas(repo):
    for path in sorted((repo / "out" / "gitops").rglob("sync.yaml")) + [repo / "out/gitops/argocd/applicationset.yaml"]:
        for o in documents(path):
            group, version = o["apiVersion"].split("/")
            schema = json.loads((UPSTREAM / group / f"{o['kind'].lower()}_{version}.json").read_text())
            errors = [e.message for e in jsonschema.validators.validator_for(schema)(schema).iter_errors(o)]
            assert errors == [], (path.name, o["kind"], errors[:3])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")
def test_each_gitops_folder_builds_with_kustomize(repo):
    for folder in [repo / "out/gitops/argocd"] + sorted((repo / "out/gitops/flux").iterdir()):
        result = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_verify_reads_out_gitops_too(repo):
    result = run(repo, "verify")
    assert result.exit_code == 0, result.stderr
    appset = repo / "out/gitops/argocd/applicationset.yaml"
    saved = appset.read_text()
    try:
        appset.write_text(saved.replace("goTemplate: true", "goTemplate: 'yes'"))
        result = run(repo, "verify")
        assert result.exit_code == 1 and "out/gitops/argocd/applicationset.yaml" in result.stderr
    finally:
        appset.write_text(saved)


def test_a_build_of_some_environments_leaves_out_gitops_and_check_keeps_it_current(repo, tmp_path):
    root = Path(shutil.copytree(repo, tmp_path / "repo"))
    before = (root / "out/gitops/argocd/applicationset.yaml").read_text()
    (root / "environments" / "a" / "environment.yaml").write_text(
        (root / "environments" / "a" / "environment.yaml").read_text().replace("repoURL:", "revision: next\n    repoURL:"))
    assert run(root, "build", "--env", "a").exit_code == 0
    assert (root / "out/gitops/argocd/applicationset.yaml").read_text() == before
    assert run(root, "check").exit_code == 1                  # out/gitops/ lags until a build of every environment
    assert run(root, "build").exit_code == 0
    assert "revision: next" in (root / "out/gitops/argocd/applicationset.yaml").read_text()
    assert run(root, "check").exit_code == 0


def test_without_gitops_settings_there_is_no_out_gitops(tmp_path):
    root = bare_repo(tmp_path / "repo")
    add_environment(root, "e", {})
    add_project(root, "e", "team", {"gpus": 2})
    assert run(root, "build").exit_code == 0
    assert not (root / "out" / "gitops").exists()


def test_an_environment_named_gitops_is_refused(tmp_path):
    root = bare_repo(tmp_path / "repo")
    add_environment(root, "gitops", {})
    result = run(root, "validate")
    assert result.exit_code == 1 and "an environment cannot be named gitops" in result.stderr


def test_a_repository_url_with_credentials_is_refused(tmp_path):
    root = bare_repo(tmp_path / "repo")
    add_environment(root, "e", {"gitops": {"repoURL": "https://user:token@github.com/example/platform.git"}})
    result = run(root, "validate")
    assert result.exit_code == 1 and "spec.gitops.repoURL" in result.stderr and "token" not in result.stderr


def test_plan_and_diff_of_a_repository_with_out_gitops(repo, tmp_path):
    root = Path(shutil.copytree(repo, tmp_path / "repo"))
    result = run(root, "plan")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "nimgen plan: 0 added, 0 changed, 0 removed; 0 file(s) would change\n"
    (root / "environments" / "b" / "environment.yaml").write_text(
        (root / "environments" / "b" / "environment.yaml").read_text().replace("prune: true", "prune: false"))
    result = run(root, "plan")
    assert result.exit_code == 0 and "0 added, 0 changed, 0 removed; 2 file(s) would change" in result.stdout
    assert "changed: out/gitops/argocd/applicationset.yaml" in run(root, "diff").stdout
