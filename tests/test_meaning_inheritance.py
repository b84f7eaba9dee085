"""What an environment inherits: everything of environments/base/ when its environment.yaml says `spec.base: base`,
nothing otherwise (with a located warning while a base exists); `enabled: false` on a project takes its workloads
along, with a note; an unknown project's hint names the file that would declare it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run
from meaning import (HEADER, ONE_GPU, Objects, add_environment, add_project, add_workload, bare_repo,
                     diagnostics_by_environment, errors, out_objects, warnings)
from nimgen.diagnostics import NOTE

ENVIRONMENTS = ("layered", "alone", "off", "typo")


def own_environment(root: Path, env: str, spec: dict[str, Any]) -> None:
    """A whole environment.yaml of its own: the base's settings copied, `spec.base` as given."""
    base = yaml.safe_load((root / "environments" / "base" / "environment.yaml").read_text())["spec"]
    base.pop("base", None)
    path = root / "environments" / env / "environment.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({**HEADER, "kind": "Environment", "metadata": {"name": env},
                                    "spec": {**base, **spec}}, sort_keys=False))


def base_workload(root: Path, name: str) -> None:
    """A project and a workload in environments/base/: what a layered environment inherits."""
    project = root / "environments" / "base" / "projects" / "shared.yaml"
    project.parent.mkdir(parents=True, exist_ok=True)
    project.write_text(yaml.safe_dump({**HEADER, "kind": "Project", "metadata": {"name": "shared"},
                                       "spec": {"quota": {"gpus": 4}}}))
    (root / "environments" / "base" / "workloads").mkdir(exist_ok=True)
    add_workload(root, "base", "shared", name, ONE_GPU)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("inheritance") / "repo")
    base_workload(root, "inherited")
    add_environment(root, "layered", {})                    # spec.base: base (meaning.add_environment's default)
    own_environment(root, "alone", {})                       # no spec.base: nothing of base
    (root / "environments" / "alone" / "workloads").mkdir()
    add_project(root, "alone", "team", {"gpus": 2})
    add_workload(root, "alone", "team", "own", ONE_GPU)
    # a disabled project: its inherited workload goes with it, with a note
    add_environment(root, "off", {})
    (root / "environments" / "off" / "projects").mkdir(exist_ok=True)
    (root / "environments" / "off" / "projects" / "shared.yaml").write_text(
        yaml.safe_dump({**HEADER, "kind": "Project", "metadata": {"name": "shared"}, "enabled": False}))
    # a workload naming a project nobody declared
    add_environment(root, "typo", {})
    add_workload(root, "typo", "sharred", "lost", ONE_GPU)
    return root


@pytest.fixture(scope="module")
def diagnostics(repo: Path):
    return diagnostics_by_environment(repo, ENVIRONMENTS)


def test_an_environment_with_spec_base_inherits_the_bases_projects_and_workloads(repo, diagnostics):
    layered = [d for d in diagnostics["layered"] if d.severity != NOTE]
    assert layered == []
    result = run(repo, "build", "--env", "layered")
    assert result.exit_code == 0, result.stderr
    objects = Objects(out_objects(repo, "layered"))
    assert objects.find("InferenceService", "inherited", "shared") is not None


def test_an_environment_without_spec_base_inherits_nothing_and_is_told_so(repo, diagnostics):
    assert errors(diagnostics, "alone") == []
    (warning,) = warnings(diagnostics, "alone")
    assert (warning.file, warning.path) == ("environments/alone/environment.yaml", "spec")
    assert "does not layer on environments/base/" in warning.message and "base: base" in (warning.hint or "")
    result = run(repo, "build", "--env", "alone")
    assert result.exit_code == 0, result.stderr
    objects = Objects(out_objects(repo, "alone"))
    assert objects.find("InferenceService", "own", "team") is not None
    assert objects.of("InferenceService", "shared") == [] and objects.find("Namespace", "shared") is None


def test_a_disabled_project_takes_its_workloads_along_with_a_note(repo, diagnostics):
    assert errors(diagnostics, "off") == []
    (note,) = [d for d in diagnostics["off"] if d.severity == NOTE]
    assert (note.file, note.line, note.path) == ("environments/off/projects/shared.yaml", 2, "enabled")
    assert "project shared is disabled in environment off, and with it its workloads: inherited " \
           "(environments/base/workloads/inherited.yaml:" in note.message
    assert ": note: project shared" in note.text()
    result = run(repo, "build", "--env", "off")
    assert result.exit_code == 0 and "note: project shared is disabled" in result.stderr
    assert Objects(out_objects(repo, "off")).of("InferenceService") == []


def test_an_unknown_project_is_not_matched_to_another_teams_project(repo, diagnostics):
    (error,) = errors(diagnostics, "typo")
    assert error.path == "metadata.project" and "unknown project 'sharred'" in error.message
    assert "did you mean" not in (error.hint or "")
    assert "environments/typo/projects/sharred.yaml" in (error.hint or "")


def test_spec_base_without_a_base_folder_is_an_error(tmp_path):
    root = bare_repo(tmp_path / "repo")
    shutil.copy(root / "environments" / "base" / "environment.yaml", tmp_path / "base-environment.yaml")
    shutil.rmtree(root / "environments" / "base")
    (root / "environments" / "base").mkdir()                 # an empty folder is no base
    path = root / "environments" / "solo" / "environment.yaml"
    path.parent.mkdir(parents=True)
    spec = yaml.safe_load((tmp_path / "base-environment.yaml").read_text())["spec"]
    path.write_text(yaml.safe_dump({**HEADER, "kind": "Environment", "metadata": {"name": "solo"},
                                    "spec": {**spec, "base": "base"}}, sort_keys=False))
    result = run(root, "validate")
    assert result.exit_code == 1
    assert "environments/solo/environment.yaml:" in result.stderr and "spec.base: environments/base/ holds no inputs" in result.stderr


def test_a_repository_without_a_base_warns_nothing(tmp_path):
    root = bare_repo(tmp_path / "repo")
    spec = yaml.safe_load((root / "environments" / "base" / "environment.yaml").read_text())["spec"]
    shutil.rmtree(root / "environments" / "base")
    path = root / "environments" / "solo" / "environment.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({**HEADER, "kind": "Environment", "metadata": {"name": "solo"}, "spec": spec}))
    result = run(root, "validate")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_an_environment_copied_under_a_new_name_builds(tmp_path):
    root = bare_repo(tmp_path / "repo")
    add_environment(root, "first", {})
    add_project(root, "first", "team", {"gpus": 2})
    add_workload(root, "first", "team", "w", ONE_GPU)
    assert run(root, "build").exit_code == 0
    shutil.copytree(root / "environments" / "first", root / "environments" / "second")
    text = (root / "environments" / "second" / "environment.yaml").read_text()
    (root / "environments" / "second" / "environment.yaml").write_text(text.replace("name: first", "name: second"))
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    assert Objects(out_objects(root, "second")).find("InferenceService", "w", "team") is not None
    assert run(root, "check").exit_code == 0
