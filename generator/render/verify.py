"""Stage 6, verify: every rendered object against Kubernetes and CRD JSON Schemas, before anything lands.

Core kinds use kubernetes-validate's bundled strict schemas for the environment's Kubernetes version; CRD kinds
use the schemas this project writes in schemas/k8s-crds/ for the fields it emits (kubeconform's layout:
{group}/{kind}_{version}.json). When kubeconform is on PATH it checks the same files with the same schemas.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import jsonschema
import kubernetes_validate
from packaging.version import Version
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ..diagnostics import Diagnostic, json_path
from ..inputs.load import parse

KV_SCHEMAS = Path(kubernetes_validate.__file__).resolve().parent / "kubernetes-json-schema"
CRD_SCHEMAS = Path(__file__).resolve().parent.parent.parent / "schemas" / "k8s-crds"


@lru_cache(maxsize=None)
def schema_version(kubernetes_version: str) -> str:
    """The newest bundled schema version not newer than the environment's (as kubernetes-validate does)."""
    versions = sorted({re.sub(r"^v([^-]*).*", r"\1", p.name) for p in KV_SCHEMAS.iterdir() if p.name.startswith("v")},
                      key=Version)
    wanted = Version(kubernetes_version)
    usable = [v for v in versions if Version(".".join(v.split(".")[:2])) <= wanted]
    if not usable:
        raise ValueError(f"no Kubernetes schemas for {kubernetes_version}; oldest bundled is {versions[0]}")
    return usable[-1]


def core_schema_file(version: str, api_version: str, kind: str) -> Path:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return KV_SCHEMAS / f"v{version}-local-strict" / f"{kind.lower()}-{group_version}.json"


def crd_schema_file(api_version: str, kind: str) -> Path:
    group, version = api_version.split("/")
    return CRD_SCHEMAS / group / f"{kind.lower()}_{version}.json"


@lru_cache(maxsize=None)
def validator(kubernetes_version: str, api_version: str, kind: str):
    group = api_version.split("/")[0] if "/" in api_version else ""
    if "." in group and not group.endswith(".k8s.io"):  # a CRD group such as serving.kserve.io
        path = crd_schema_file(api_version, kind)
        if not path.exists():
            return None
        return jsonschema.Draft202012Validator(json.loads(path.read_text()))
    version = schema_version(kubernetes_version)
    path = core_schema_file(version, api_version, kind)
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    schema.setdefault("$id", path.parent.as_uri() + "/" + path.name)
    return jsonschema.Draft202012Validator(schema, registry=_definitions(path.parent))


@lru_cache(maxsize=None)
def _definitions(folder: Path) -> Registry:
    """The shared _definitions.json, crawled once: an uncrawled registry re-crawls on every $ref lookup."""
    contents = json.loads((folder / "_definitions.json").read_text())
    resource = Resource.from_contents(contents, default_specification=DRAFT202012)
    return Registry().with_resource(folder.as_uri() + "/_definitions.json", resource).crawl()


def verify_object(obj: dict, kubernetes_version: str) -> list[tuple[tuple, str]]:
    """Problems of one object as (path inside the object, message)."""
    check = validator(kubernetes_version, obj.get("apiVersion", ""), obj.get("kind", ""))
    if check is None:
        return [((), f"no schema for {obj.get('apiVersion')} {obj.get('kind')}")]
    return [(tuple(e.absolute_path), e.message) for e in sorted(check.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]


def verify_file(shown: str, text: str, objects: list[dict], kubernetes_version: str) -> list[Diagnostic]:
    problems = []
    for index, obj in enumerate(objects):
        found = verify_object(obj, kubernetes_version)
        if not found:
            continue
        chunk_start, chunk = _document(text, index)
        doc, _ = parse(chunk, shown)
        for path, message in found:
            _, line, col = doc.where(path) if doc else (shown, 1, 1)
            problems.append(Diagnostic(shown, chunk_start + line - 1, col, json_path(path),
                                       f"{obj['kind']} {obj['metadata'].get('name')}: {message}",
                                       "the rendered object breaks its schema: please report this as a nimgen bug"))
    return problems


def _document(text: str, index: int) -> tuple[int, str]:
    """Line number (1-based) where the index-th '---' document starts, and its text."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line == "---"]
    begin = starts[index] + 1
    end = starts[index + 1] if index + 1 < len(starts) else len(lines)
    return begin + 1, "\n".join(lines[begin:end]) + "\n"


def kubeconform(folder: Path, kubernetes_version: str, shown_root: str) -> list[Diagnostic]:
    """Run kubeconform over a rendered tree when it is installed; [] when it is not."""
    binary = shutil.which("kubeconform")
    if binary is None:
        return []
    version = schema_version(kubernetes_version)
    core = str(KV_SCHEMAS) + "/v{{ .KubernetesVersion }}-local-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    crds = str(CRD_SCHEMAS) + "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
    files = sorted(str(p) for p in folder.rglob("*.yaml") if p.name != "kustomization.yaml")
    result = subprocess.run([binary, "-strict", "-summary=false", "-output", "json", "-kubernetes-version", version,
                             "-schema-location", core, "-schema-location", crds, *files],
                            capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return []
    try:
        resources = json.loads(result.stdout or "{}").get("resources", [])
    except json.JSONDecodeError:
        resources = [{"filename": str(folder), "msg": (result.stdout + result.stderr).strip(), "status": "statusError"}]
    problems = []
    for res in resources:
        if res.get("status") in ("statusInvalid", "statusError"):
            name = Path(res.get("filename", str(folder)))
            shown = f"{shown_root}/{name.relative_to(folder).as_posix()}" if name.is_relative_to(folder) else str(name)
            problems.append(Diagnostic(shown, 1, 1, "$", f"kubeconform: {res.get('kind', '')} {res.get('name', '')}: {res.get('msg')}"))
    if not problems:
        problems.append(Diagnostic(shown_root, 1, 1, "$", f"kubeconform failed: {(result.stderr or result.stdout).strip()}"))
    return problems
