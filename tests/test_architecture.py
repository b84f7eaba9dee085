"""The import rules of docs/ARCHITECTURE.md, checked by import-linter from the contracts in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([*LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def test_the_generator_keeps_every_import_contract():
    result = lint(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_construct_that_imports_resolve_breaks_the_contract(tmp_path: Path):
    shutil.copytree(PROJECT / "generator", tmp_path / "nimgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    base = tmp_path / "nimgen" / "construct" / "base.py"
    base.write_text(base.read_text().replace("from constructs import Construct",
                                             "from constructs import Construct\n\nfrom ..resolve import naming  # noqa"))
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "construct only renders the model: it never imports resolve or inputs BROKEN" in result.stdout
