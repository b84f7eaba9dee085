"""Shared fixtures: a private copy of the test repository (tests/fixtures/repo, independent of the example
environments the project ships), built once per session, and a way to run the CLI against it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nimgen.cli import main
from nimgen.diagnostics import BuildFailed
from nimgen.usecases import compile_all

PROJECT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "repo"
SHARED = PROJECT.parent / "shared"
UPSTREAM_SCHEMAS = SHARED / "crds" / "jsonschema"

# A complete, valid new workload for the fixture's prod environment: the starting point of the bad-input tests,
# which change one line of it (their expected line and column numbers count from this text).
NEW_WORKLOAD = "environments/prod/workloads/x.yaml"
VALID_WORKLOAD = """\
apiVersion: nimgen.dev/v1alpha1
kind: InferenceWorkload
metadata:
  name: x
  project: research
spec:
  model: {nim: meta/llama-3.1-8b-instruct, version: "1.1.2"}
  profile: {name: vllm-fp16-tp1}
  access: {type: clusterLocal}
  store: {uri: "s3://a/b"}
  compute: {template: small}
  scaling: {minReplicas: 1, maxReplicas: 1}
"""


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def run(root: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["--root", str(root), *args], catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def make_repo(dest: Path) -> Path:
    """The fixture's environments and gallery, with the product's NIM catalog (real profile data)."""
    shutil.copytree(FIXTURE, dest, dirs_exist_ok=True)
    shutil.copytree(PROJECT / "templates" / "models", dest / "templates" / "models")
    return dest


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_repo(tmp_path_factory.mktemp("built") / "repo")
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture
def built(built_once: Path, tmp_path: Path) -> Path:
    """A built copy, build cache included: a build after an edit constructs only what the edit changed."""
    return Path(shutil.copytree(built_once, tmp_path / "repo", symlinks=True))


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The project's own inputs and committed out/, to check that out/ is what they produce."""
    for name in ("environments", "templates", "out"):
        if (PROJECT / name).exists():
            shutil.copytree(PROJECT / name, tmp_path / name)
    return tmp_path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def resolved(root: Path, env: str) -> dict:
    """The workloads one environment resolves to, by name (no rendering, no cdk8s)."""
    return {w.name: w for w in compile_all(root, [env], render=False).resolved[env].workloads}


def errors_of(root: Path, env: str) -> list[str]:
    """The error lines resolving one environment reports (it must fail)."""
    with pytest.raises(BuildFailed) as failed:
        compile_all(root, [env], render=False)
    return [d.text() for d in failed.value.diagnostics if d.severity == "error"]


def write_workload(root: Path, env: str, name: str, spec: dict, project: str = "chat", **top) -> Path:
    path = root / "environments" / env / "workloads" / f"{name}.yaml"
    doc = {"apiVersion": "nimgen.dev/v1alpha1", "kind": "InferenceWorkload",
           "metadata": {"name": name, "project": project}, "spec": spec, **top}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
