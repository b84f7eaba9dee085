"""The distribution: a wheel named nimgen carries its schemas, text templates, catalog and starter repository, so
`pip install` into a fresh virtualenv, then `nimgen init` and `nimgen build` in an empty folder, work away from
this checkout. `nimgen init` itself, from the checkout, in every profile."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from conftest import PROJECT, THOROUGH, run


def test_init_writes_a_repository_that_builds_and_checks(tmp_path):
    target = tmp_path / "platform"
    result = run(tmp_path, "init", str(target))
    assert result.exit_code == 0, result.stderr
    written = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert {"Makefile", "README.md", ".gitignore", ".github/workflows/nimgen.yml", "environments/dev/environment.yaml",
            "environments/dev/projects/team.yaml", "environments/dev/workloads/llama-8b.yaml"} <= written
    assert any(p.startswith("templates/models/") for p in written)
    assert "NIMGEN_VERSION" not in (target / ".github/workflows/nimgen.yml").read_text()
    assert run(target, "build").exit_code == 0
    assert run(target, "check").exit_code == 0
    # the workflow checks out/ and comments the plan of the pull request against the base branch's out/
    workflow = (target / ".github/workflows/nimgen.yml").read_text()
    assert "nimgen check --format github" in workflow and "nimgen plan --format markdown" in workflow


def test_init_overwrites_nothing(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = run(tmp_path, "init", str(tmp_path / "taken"))
    assert result.exit_code == 1 and "not an empty folder" in result.stderr
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["notes.txt"]


@pytest.mark.skipif(not THOROUGH, reason="thorough profile only (make test-thorough, CI): builds and installs a wheel")
def test_the_installed_wheel_inits_builds_and_checks_away_from_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(PROJECT), "--no-deps", "-q", "-w", str(wheels)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("nimgen-*.whl")
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    subprocess.run([str(env / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True)
    nimgen = str(env / "bin" / "nimgen")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for args in (["--version"], ["init", "platform"], ["--root", "platform", "build"], ["--root", "platform", "check"],
                 ["--root", "platform", "validate"]):
        done = subprocess.run([nimgen, *args], cwd=elsewhere, capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr)
    assert (elsewhere / "platform" / "out" / "dev" / "serve" / "team" / "llama-8b.yaml").is_file()
    installed = subprocess.run([str(env / "bin" / "python"), "-c", "import nimgen.resources as r; print(r.SCHEMA_DIR)"],
                               capture_output=True, text=True, check=True).stdout
    assert str(PROJECT) not in installed and "_data" in installed
