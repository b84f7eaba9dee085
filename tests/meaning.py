"""Small repositories for the meaning tests (test_meaning_*.py): the fixture's base environment and gallery
with none of its environments or workloads, to which a test module adds exactly the environments, projects and
workloads it reads; and the objects a build wrote to out/, parsed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from conftest import make_repo, write_workload
from nimgen.diagnostics import BuildFailed, Diagnostic
from nimgen.usecases import compile_all

HEADER = {"apiVersion": "nimgen.dev/v1alpha1"}
# One replica of this runs on one L40S (tp1), of the second on two (tp2), in the fixture's base pool l40s.
ONE_GPU = {"model": {"nim": "meta/llama-3.1-8b-instruct", "version": "1.1.2"}, "profile": {"name": "vllm-fp16-tp1"},
           "compute": {"cpu": "4", "memory": "32Gi"}, "store": {"pvc": {"claim": "weights"}},
           "scheduling": {"nodePools": ["l40s"]}}
TWO_GPUS = {**ONE_GPU, "profile": {"name": "tensorrt_llm-l40s-bf16-tp2-latency"}}


def bare_repo(dest: Path) -> Path:
    """The fixture's base environment.yaml and gallery: no projects, workloads or environments of its own."""
    root = make_repo(dest)
    for folder in (root / "environments").iterdir():
        if folder.name != "base":
            shutil.rmtree(folder)
    for folder in ("projects", "workloads"):
        shutil.rmtree(root / "environments" / "base" / folder, ignore_errors=True)
    return root


def _write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def add_environment(root: Path, env: str, spec: dict[str, Any]) -> None:
    """An environment over the base one: `spec` is merged over environments/base/environment.yaml."""
    _write(root / "environments" / env / "environment.yaml",
           {**HEADER, "kind": "Environment", "metadata": {"name": env}, "spec": {"base": "base", **spec}})
    (root / "environments" / env / "workloads").mkdir(exist_ok=True)


def add_project(root: Path, env: str, name: str, quota: dict[str, Any], **spec: Any) -> None:
    _write(root / "environments" / env / "projects" / f"{name}.yaml",
           {**HEADER, "kind": "Project", "metadata": {"name": name}, "spec": {"quota": quota, **spec}})


def add_datasource(root: Path, name: str, spec: dict[str, Any]) -> None:
    _write(root / "templates" / "datasources" / f"{name}.yaml",
           {**HEADER, "kind": "DataSource", "metadata": {"name": name}, "spec": spec})


def add_workload(root: Path, env: str, project: str, name: str, spec: dict[str, Any]) -> Path:
    return write_workload(root, env, name, spec, project=project)


def replicas(low: int, high: int | None = None) -> dict[str, Any]:
    """spec.scaling: fixed at `low`, or from `low` to `high` on concurrency."""
    high = low if high is None else high
    scaling: dict[str, Any] = {"minReplicas": low, "maxReplicas": high}
    if high > low:
        scaling.update(metric="concurrency", target=4)
    return scaling


def out_objects(root: Path, env: str) -> Iterator[dict[str, Any]]:
    """Every object of out/<env>/, parsed (the kustomization is not a cluster object)."""
    for path in sorted((root / "out" / env).rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


class Objects:
    """The objects of one environment's out/, found by kind, namespace and name."""

    def __init__(self, objects: Iterator[dict[str, Any]]):
        self.all = list(objects)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        found = self.find(kind, name, namespace)
        assert found is not None, f"no {kind} {namespace}/{name} among {[(o['kind'], o['metadata']['name']) for o in self.all]}"
        return found

    def find(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        for o in self.all:
            meta = o["metadata"]
            if o["kind"] == kind and meta["name"] == name and (namespace is None or meta.get("namespace") == namespace):
                return o
        return None

    def of(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.all
                if o["kind"] == kind and (namespace is None or o["metadata"].get("namespace") == namespace)]


def diagnostics_by_environment(root: Path, environments: Iterable[str]) -> dict[str, list[Diagnostic]]:
    """Every environment of a repository resolved once (no rendering); each diagnostic filed under the environment
    it is in (one outside them fails the test)."""
    try:
        found = compile_all(root, render=False).warnings
    except BuildFailed as failed:
        found = list(failed.diagnostics)
    by_env: dict[str, list[Diagnostic]] = {env: [] for env in environments}
    for d in found:
        parts = d.file.split("/")
        assert parts[0] == "environments" and parts[1] in by_env, f"a diagnostic outside the scenarios: {d.text()}"
        by_env[parts[1]].append(d)
    return by_env


def errors(diagnostics: dict[str, list[Diagnostic]], env: str) -> list[Diagnostic]:
    return [d for d in diagnostics[env] if d.severity == "error"]


def warnings(diagnostics: dict[str, list[Diagnostic]], env: str) -> list[Diagnostic]:
    return [d for d in diagnostics[env] if d.severity == "warning"]


def value_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested mappings and lists (for tests that change one value of a document)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += value_paths(child, prefix + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += value_paths(child, prefix + (i,))
    return found
