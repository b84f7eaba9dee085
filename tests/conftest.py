"""Shared fixtures: a private copy of the example repository, and a way to run the CLI against it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
UPSTREAM_SCHEMAS = SHARED / "crds" / "jsonschema"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run(root: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--root", str(root), *args], catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the example inputs and committed out/ (the generator itself is imported, not copied)."""
    for name in ("environments", "templates", "out"):
        if (PROJECT / name).exists():
            shutil.copytree(PROJECT / name, tmp_path / name)
    return tmp_path


@pytest.fixture
def built(repo: Path) -> Path:
    result = run(repo, "build")
    assert result.exit_code == 0, result.stderr
    return repo


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
