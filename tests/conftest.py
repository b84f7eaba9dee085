"""Shared fixtures: a private copy of the test repository (tests/fixtures/repo, independent of the example
environments the project ships), built once per session, and a way to run the CLI against it; and the test
profile (NIMGEN_TEST_PROFILE), which sets how many randomized cases and trials the suite runs.

Two profiles, the same tests in both but for the few marked `thorough`:

- fast (the default, `make test`): every Hypothesis family and parametrization, a few derandomized examples each;
  a few kill and concurrency trials; the NIM catalog parsed once per session (catalog_read_once). Deterministic,
  and quick enough to run before every commit.
- thorough (`make test-thorough`, which CI runs after `make test`): the full numbers (2,010 validate cases, 32
  whole builds, every kill and concurrency trial), every input read afresh by every run, and the tests marked
  `thorough` (heavy checks whose behaviour a fast test also covers; skipped in the fast profile).
"""

from __future__ import annotations

import os
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


PROFILE = os.environ.get("NIMGEN_TEST_PROFILE", "fast")
if PROFILE not in ("fast", "thorough"):
    raise pytest.UsageError(f"NIMGEN_TEST_PROFILE={PROFILE!r}: use fast or thorough")
THOROUGH = PROFILE == "thorough"


@dataclass(frozen=True)
class Budget:
    """How many randomized cases and trials a profile runs (tests/test_fuzz.py, tests/test_commit.py)."""

    fuzz_per_family: int     # test_validate_survives: Hypothesis examples per mutation family
    fuzz_builds: int         # test_build_survives: whole builds over its two parts
    kills_at_random: int     # SIGKILL of a build process at a random moment
    kills_in_commit: int     # SIGKILL of a build process within milliseconds of its commit starting
    concurrent_rounds: int   # two builds and a check at the same time
    every_step: bool         # a kill at the first AND the last step of each kind (not only the first)


BUDGETS = {
    # 134 x 15 families = 2,010 validate cases (NIMGEN_FUZZ_EXAMPLES overrides the total)
    "thorough": Budget(fuzz_per_family=134, fuzz_builds=32, kills_at_random=5, kills_in_commit=7,
                       concurrent_rounds=3, every_step=True),
    "fast": Budget(fuzz_per_family=6, fuzz_builds=4, kills_at_random=1, kills_in_commit=1,
                   concurrent_rounds=1, every_step=False),
}
BUDGET = BUDGETS[PROFILE]

try:    # Hypothesis is a test dependency; tests/test_fuzz.py skips itself without it
    from hypothesis import HealthCheck, settings
except ImportError:     # pragma: no cover
    pass
else:
    # Derandomized (the same examples every run), no example database, no deadline (a run takes what it takes,
    # the CLI's own time limits apply); the profiles differ only in how many examples a test draws.
    for _name, _budget in BUDGETS.items():
        settings.register_profile(_name, max_examples=_budget.fuzz_per_family, deadline=None, database=None,
                                  derandomize=True, suppress_health_check=list(HealthCheck), print_blob=False)
    settings.load_profile(PROFILE)


def pytest_report_header(config: pytest.Config) -> str:
    return (f"nimgen test profile: {PROFILE} (NIMGEN_TEST_PROFILE)"
            + ("" if THOROUGH else "; make test-thorough runs the full numbers"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if THOROUGH:
        return
    skip = pytest.mark.skip(reason="thorough profile only (make test-thorough, CI)")
    for item in items:
        if item.get_closest_marker("thorough"):
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def catalog_read_once():
    """Fast profile: the product's NIM catalog (templates/models/, which make_repo copies into every test
    repository and no test edits in place) is parsed and validated once per session instead of once per run, the
    largest part of every run's reading. Only a regular file (no symbolic link on the way) whose bytes are the
    ones parsed before reuses that parse; any other input, and any catalog file a test changed, replaced or
    linked, is read afresh as always. Thorough profile: every run reads every file (no reuse)."""
    try:
        from nimgen.inputs import reader
        real_load, real_validate = reader.load_file, reader.validate_document
    except (ImportError, AttributeError):     # the reader moved: read everything, only slower
        real_load = None
    if THOROUGH or real_load is None:
        yield
        return
    parsed: dict[tuple, tuple] = {}
    validated: dict[tuple, list] = {}
    shared: set[int] = set()

    def catalog_file(path: object, root: object) -> str | None:
        """'templates/models/NAME' when path is that regular file of root, reached through no symbolic link."""
        if not isinstance(path, (str, os.PathLike)) or not isinstance(root, (str, os.PathLike)):
            return None
        file = Path(path)
        if Path(os.path.abspath(file)) != Path(os.path.abspath(root)) / "templates" / "models" / file.name:
            return None
        if any(p.is_symlink() for p in (file, file.parent, file.parent.parent)) or not file.is_file():
            return None
        return f"templates/models/{file.name}"

    def load_file(path, root, *args, **kwargs):
        rel = catalog_file(path, root)
        if rel is None:
            return real_load(path, root, *args, **kwargs)
        try:
            data = Path(path).read_bytes()
        except OSError:
            return real_load(path, root, *args, **kwargs)
        key = (rel, data, args, tuple(sorted(kwargs.items())))
        if key not in parsed:
            doc, problems = real_load(path, root, *args, **kwargs)
            if doc is None or getattr(doc, "file", None) != rel:    # only what names no absolute path
                return doc, problems
            parsed[key] = (doc, problems)
            shared.add(id(doc))
        doc, problems = parsed[key]
        return doc, list(problems)

    def validate_document(doc, *args, **kwargs):
        if id(doc) not in shared:
            return real_validate(doc, *args, **kwargs)
        key = (id(doc), args, tuple(sorted(kwargs.items())))
        if key not in validated:
            validated[key] = real_validate(doc, *args, **kwargs)
        return list(validated[key])

    reader.load_file, reader.validate_document = load_file, validate_document
    try:
        yield
    finally:
        reader.load_file, reader.validate_document = real_load, real_validate


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
    """The test repository built once per test session (per xdist worker): never write into it, see built and
    built_readonly."""
    root = make_repo(tmp_path_factory.mktemp("built") / "repo")
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture
def built(built_once: Path, tmp_path: Path) -> Path:
    """A built copy, build cache included, for a test that writes: a build after an edit constructs only what
    the edit changed."""
    return Path(shutil.copytree(built_once, tmp_path / "repo", symlinks=True))


@pytest.fixture
def built_readonly(built_once: Path):
    """The session's built repository itself, for a test that only reads it (reads out/, runs verify): no copy.
    Afterwards every byte must be as it was, so a test that writes fails here rather than spoiling the others."""
    before = snapshot(built_once)
    yield built_once
    assert snapshot(built_once) == before, "a test given built_readonly changed the shared repository: use built"


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
