"""A build with nothing to do stops after hashing: the record of the last full build (.nimgen/build-record.json)
matches the inputs, nimgen itself and out/. Every kind of change makes it build for real, and what it builds is
byte for byte what a cold build makes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import pytest

from conftest import THOROUGH, run
from meaning import ONE_GPU, add_environment, add_project, add_workload, bare_repo
from nimgen import usecases
from nimgen.output import record

NOTHING = "nothing changed since the last build"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("noop") / "repo")
    (root / "environments" / "base" / "workloads").mkdir(exist_ok=True)
    add_workload(root, "base", "team", "shared", ONE_GPU)
    for env in ("a", "b"):
        add_environment(root, env, {})
        add_project(root, env, "team", {"gpus": 4})
        add_workload(root, env, "team", "own", ONE_GPU)
    result = run(root, "build")
    assert result.exit_code == 0 and NOTHING not in result.stdout, result.stderr
    return root


@pytest.fixture
def repo(built_repo: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(built_repo, tmp_path / "repo", symlinks=True))


def test_a_build_with_nothing_to_do_says_so_and_touches_nothing(repo):
    before = snapshot(repo / "out")
    result = run(repo, "build")
    assert result.exit_code == 0 and NOTHING in result.stdout
    assert "built 2 environment(s), 4 workload(s); 0 environment folder(s) changed" in result.stdout
    assert snapshot(repo / "out") == before


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new))


CHANGES: dict[str, Callable[[Path], None]] = {
    "an environment's input": lambda r: edit(r / "environments/a/workloads/own.yaml", "cpu: '4'", "cpu: '5'"),
    "a base input": lambda r: edit(r / "environments/base/workloads/shared.yaml", "cpu: '4'", "cpu: '5'"),
    "a gallery entry": lambda r: (r / "templates/compute/extra.yaml").write_text(
        "apiVersion: nimgen.dev/v1alpha1\nkind: ComputeTemplate\nmetadata: {name: extra}\nspec: {cpu: '1', memory: 1Gi}\n"),
    "the catalog": lambda r: edit(next((r / "templates/models").glob("*.yaml")), "kind: NimModel", "kind: NimModel  # noted"),
    "a hand edit in out/": lambda r: edit(r / "out/a/serve/team/own.yaml", "kind: InferenceService", "kind: InferenceService\n#"),
    "a file deleted from out/": lambda r: (r / "out/b/README.md").unlink(),
    "a file added to out/": lambda r: (r / "out/a/stray.yaml").write_text("---\n"),
    "a new empty input folder": lambda r: (r / "environments/a/workloads/x.yaml").mkdir(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_kind_of_change_makes_a_real_build(repo, change):
    CHANGES[change](repo)
    result = run(repo, "build")
    assert NOTHING not in result.stdout, change
    if result.exit_code == 0:                # the build's out/ is a cold build's, byte for byte
        cold = Path(shutil.copytree(repo, repo.parent / "cold", symlinks=True))
        shutil.rmtree(cold / "out")
        shutil.rmtree(cold / ".nimgen")
        assert run(cold, "build", "--no-cache").exit_code == 0
        assert snapshot(repo / "out") == snapshot(cold / "out"), change
        assert NOTHING in run(repo, "build").stdout           # and then there is nothing to do again


@pytest.mark.parametrize("what", ["nimgen's code", "Python", "a library"])
def test_another_nimgen_python_or_library_makes_a_real_build(repo, monkeypatch, what):
    if what == "nimgen's code":
        monkeypatch.setattr(usecases, "fingerprint", lambda: "another nimgen")
    elif what == "Python":
        monkeypatch.setattr(usecases.sys, "version", "3.99.0 (another)")
    else:
        real = usecases.pkg_metadata.version
        monkeypatch.setattr(usecases.pkg_metadata, "version", lambda d: "99.0" if d == "click" else real(d))
    result = run(repo, "build")
    assert result.exit_code == 0 and NOTHING not in result.stdout


def test_a_build_of_some_environments_never_uses_the_record_and_spoils_it(repo):
    result = run(repo, "build", "--env", "a")
    assert result.exit_code == 0 and NOTHING not in result.stdout
    assert not (repo / record.RECORD).exists()
    assert NOTHING not in run(repo, "build").stdout               # a full build proves it again
    assert NOTHING in run(repo, "build").stdout


def test_a_symbolic_link_among_the_inputs_is_judged_by_a_real_build(repo):
    os.symlink(repo / "environments/a/workloads/own.yaml", repo / "environments/b/workloads/linked.yaml")
    assert NOTHING not in run(repo, "build").stdout


def test_the_last_builds_warnings_are_printed_again(repo):
    add_workload(repo, "a", "team", "wide", {**ONE_GPU, "scaling": {"minReplicas": 1, "maxReplicas": 9,
                                                                    "metric": "concurrency", "target": 4}})
    first = run(repo, "build")
    assert first.exit_code == 0 and "warning:" in first.stderr
    again = run(repo, "build")
    assert NOTHING in again.stdout and again.stderr == first.stderr


def test_check_never_trusts_the_record(repo):
    edit(repo / "out/a/serve/team/own.yaml", "kind: InferenceService", "kind: InferenceService\n#")
    data = record.load(repo)
    assert data is not None
    # a record forged to match the edited out/ would fool a build, never check
    record.save(repo, record.Record(record.current_state(repo, repo / "out", usecases.build_fingerprint()),
                                    data.environments, data.workloads, data.warnings))
    assert NOTHING in run(repo, "build").stdout
    assert run(repo, "check").exit_code == 1


@pytest.mark.skipif(not THOROUGH, reason="thorough profile only (make test-thorough, CI): two cold builds in processes")
def test_environments_rendered_in_parallel_processes_are_byte_identical(built_repo, tmp_path):
    """NIMGEN_PARALLEL_MIN_FILES=0 constructs files in two processes at least, 10**9 in one."""
    import subprocess
    import sys
    from conftest import PROJECT
    found = {}
    for mode, threshold in (("parallel", "0"), ("sequential", str(10**9))):
        root = Path(shutil.copytree(built_repo, tmp_path / mode, symlinks=True))
        shutil.rmtree(root / "out")
        shutil.rmtree(root / ".nimgen")
        done = subprocess.run([sys.executable, "-m", "nimgen", "--root", str(root), "build", "--no-cache"], cwd=PROJECT,
                              env={**os.environ, "NIMGEN_PARALLEL_MIN_FILES": threshold}, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        found[mode] = snapshot(root / "out")
    assert found["parallel"] == found["sequential"] and found["parallel"]
