"""The import rules of docs/ARCHITECTURE.md, checked by import-linter from the contracts in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def lint(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([*LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True)


def test_the_generator_keeps_every_import_contract():
    result = lint(PROJECT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("construct/base.py", "from ..resolve import naming  # noqa",
     "construct only renders the model: it never imports resolve or inputs BROKEN"),
    ("verify/cluster_rules.py", "from ..resolve import naming  # noqa",
     "render, verify and output never import resolve"),
    ("render/layout.py", "from ..resolve.naming import predictor  # noqa", "render, verify and output never import resolve"),
    ("verify/schemas.py", "from ..model import Workload  # noqa", "verify reads rendered objects"),
])
def test_an_import_against_the_design_breaks_its_contract(tmp_path: Path, module: str, line: str, contract: str):
    shutil.copytree(PROJECT / "generator", tmp_path / "nimgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "pyproject.toml", tmp_path / "pyproject.toml")
    path = tmp_path / "nimgen" / module
    text = path.read_text()
    future = "from __future__ import annotations\n"
    path.write_text(text.replace(future, future + line + "\n", 1))
    result = lint(tmp_path)
    assert result.returncode != 0
    assert contract in result.stdout.replace("\n", " ")
    assert "BROKEN" in result.stdout
