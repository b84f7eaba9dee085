"""Every rendered object against Kubernetes and CRD JSON Schemas, before anything lands.

Core kinds use kubernetes-validate's bundled strict schemas for the environment's Kubernetes version; CRD kinds
use the schemas this project writes in schemas/k8s-crds/ for the fields it emits (kubeconform's layout:
{group}/{kind}_{version}.json). Extra schema locations (folders in the same layout, such as the CRDs of a real
cluster converted by `nimgen crd-schemas`) add checks: an object must pass its built-in schema, when there is one,
and the schema of every location that holds one for its kind; an object no schema anywhere knows is a problem.
When kubeconform is on PATH it checks the same files with the same schemas (kubeconform.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import unquote, urlparse

import jsonschema
import jsonschema_rs
from packaging.version import Version
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .. import resources
from ..diagnostics import Diagnostic, json_path
from ..inputs.load import PathKey, parse
from ..kubernetes_schemas import bundled_versions, schema_root
from ..manifests import documents

KV_SCHEMAS = schema_root() or Path("kubernetes-validate-not-installed")   # a pinned dependency
CRD_SCHEMAS = resources.CRD_SCHEMA_DIR
BUG_HINT = "the rendered object breaks its schema: please report this as a nimgen bug"
LOCATION_HINT = ("the schema of this location rejects what nimgen emits: does the cluster run the CRD version the "
                 "environment declares (e.g. its KServe version)?")
_KIND = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=None)
def schema_version(kubernetes_version: str) -> str:
    """The newest bundled schema version not newer than the environment's (as kubernetes-validate does)."""
    versions = bundled_versions()
    wanted = Version(kubernetes_version)
    usable = [v for v in versions if Version(".".join(v.split(".")[:2])) <= wanted]
    if not usable:
        raise ValueError(f"no Kubernetes schemas for {kubernetes_version}; oldest bundled is {versions[0]}")
    return usable[-1]


def core_schema_file(version: str, api_version: str, kind: str) -> Path:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    return KV_SCHEMAS / f"v{version}-local-strict" / f"{kind.lower()}-{group_version}.json"


def crd_schema_file(api_version: str, kind: str) -> Path:
    return location_schema_file(CRD_SCHEMAS, api_version, kind)


def location_schema_file(location: Path, api_version: str, kind: str) -> Path:
    """{location}/{group}/{kind}_{version}.json, kubeconform's layout; a core kind (group "") sits at the top."""
    group, version = split_api_version(api_version)
    return location / group / f"{kind.lower()}_{version}.json"


def split_api_version(api_version: str) -> tuple[str, str]:
    """'serving.kserve.io/v1beta1' -> ('serving.kserve.io', 'v1beta1'); 'v1' -> ('', 'v1')."""
    group, _, version = api_version.rpartition("/")
    return group, version


def _well_formed(api_version: object, kind: object) -> bool:
    """An apiVersion and kind that can name a schema file (a hand-edited object may hold anything)."""
    return (isinstance(api_version, str) and isinstance(kind, str) and bool(_KIND.fullmatch(kind))
            and api_version.count("/") <= 1 and re.fullmatch(r"[a-z0-9.-]*/?[a-z0-9]+", api_version) is not None)


# Groups under k8s.io that Kubernetes does not serve itself: installed as CRDs (the Gateway API).
CRD_GROUPS_UNDER_K8S_IO = frozenset({"gateway.networking.k8s.io"})


def is_core(api_version: str) -> bool:
    group = split_api_version(api_version)[0]
    if group in CRD_GROUPS_UNDER_K8S_IO:
        return False
    return not ("." in group and not group.endswith(".k8s.io"))


Validator = jsonschema.protocols.Validator


@lru_cache(maxsize=None)
def validator(kubernetes_version: str, api_version: str, kind: str) -> Validator | None:
    if not _well_formed(api_version, kind):
        return None
    if not is_core(api_version):  # a CRD group such as serving.kserve.io
        path = crd_schema_file(api_version, kind)
        if not path.exists():
            return None
        return _twin(jsonschema.Draft202012Validator(json.loads(path.read_text())), path.parent)
    version = schema_version(kubernetes_version)
    path = core_schema_file(version, api_version, kind)
    if not path.exists():
        return None
    schema = json.loads(path.read_text())
    schema.setdefault("$id", path.parent.as_uri() + "/" + path.name)
    return _twin(jsonschema.Draft202012Validator(schema, registry=_definitions(path.parent)), path.parent)


@lru_cache(maxsize=None)
def _definitions(folder: Path) -> Registry[Any]:
    """The shared _definitions.json, crawled once: an uncrawled registry re-crawls on every $ref lookup."""
    contents = json.loads((folder / "_definitions.json").read_text())
    resource: Resource[Any] = Resource.from_contents(contents, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(folder.as_uri() + "/_definitions.json", resource)
    return registry.crawl()


@dataclass(frozen=True)
class Broken:
    """A schema file of an extra location that cannot be read or parsed."""

    message: str


@lru_cache(maxsize=None)
def location_validator(location: Path, api_version: str, kind: str) -> Validator | Broken | None:
    """The validator of an extra location's schema for a kind; None when the location holds none."""
    if not _well_formed(api_version, kind):
        return None
    path = location_schema_file(location, api_version, kind)
    if not path.is_file():
        return None
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Broken(f"cannot read schema {path}: {exc}")
    if not isinstance(schema, dict):
        return Broken(f"schema {path} is not a JSON object")
    return _twin(jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)(schema),
                 path.parent)


@lru_cache(maxsize=None)
def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _retriever(folder: Path) -> Any:
    """A schema a $ref names, read from the folder of the schema that names it (Kubernetes' strict schemas share
    one _definitions.json, which they name by an https URI)."""
    def retrieve(uri: str) -> Any:
        name = unquote(urlparse(uri).path).rsplit("/", 1)[-1]
        found = folder / name
        if not name.endswith(".json") or not found.is_file():
            raise ValueError(f"nimgen resolves schema references only inside {folder}, not {uri}")
        return _read_json(found)
    return retrieve


_FAST: dict[int, tuple[Validator, Any]] = {}     # id of a (cached, so long-lived) validator -> it, and its twin


def _twin(check: Validator, folder: Path) -> Validator:
    """Compile jsonschema-rs from the same schema beside `check`: it answers 'valid?' hundreds of times faster,
    and only an object it finds invalid is validated again by jsonschema, whose messages every problem keeps. When
    jsonschema-rs cannot compile the schema, jsonschema alone decides."""
    try:
        twin = jsonschema_rs.validator_for(check.schema, retriever=_retriever(folder)) \
            if isinstance(check.schema, dict) else None
    except (ValueError, jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError):
        twin = None
    _FAST[id(check)] = (check, twin)
    return check


def _fast(check: Validator) -> Any:
    found = _FAST.get(id(check))
    return found[1] if found is not None and found[0] is check else None


@dataclass(frozen=True)
class Problem:
    path: PathKey
    message: str
    hint: str | None = None          # None: the caller's hint for a built-in schema's problem


def object_problems(obj: dict[str, Any], kubernetes_version: str, locations: Sequence[Path] = ()) -> list[Problem]:
    """Every problem of one object: its built-in schema (when one exists) and each location holding one."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    checks: list[tuple[Path | None, Validator | Broken]] = []
    if _well_formed(api_version, kind):
        builtin = validator(kubernetes_version, api_version, kind)
        if builtin is not None:
            checks.append((None, builtin))
        for location in locations:
            extra = location_validator(Path(location).resolve(), api_version, kind)
            if extra is not None:
                checks.append((Path(location), extra))
    if not checks:
        where = f" in nimgen's schemas or {', '.join(str(loc) for loc in locations)}" if locations else ""
        return [Problem((), f"no schema for {api_version} {kind}{where}")]
    problems = []
    for where_from, check in checks:
        if isinstance(check, Broken):
            problems.append(Problem((), check.message, "give a folder written by 'nimgen crd-schemas'"))
            continue
        fast = _fast(check)
        if fast is not None and fast.is_valid(obj):
            continue
        suffix = f" (schema {location_schema_file(where_from, api_version, kind)})" if where_from else ""
        for error in sorted(check.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
            problems.append(Problem(tuple(error.absolute_path), error.message + suffix,
                                    LOCATION_HINT if where_from else None))
    return problems


def verify_object(obj: dict[str, Any], kubernetes_version: str, locations: Sequence[Path] = ()) -> list[tuple[PathKey, str]]:
    """Problems of one object as (path inside the object, message)."""
    return [(p.path, p.message) for p in object_problems(obj, kubernetes_version, tuple(locations))]


def verify_file(shown: str, text: str, objects: list[dict[str, Any]], kubernetes_version: str,
                locations: Sequence[Path] = (), hint: str = BUG_HINT) -> list[Diagnostic]:
    """Problems of the objects of one rendered file, each at its line and column; objects[i] is the i-th document
    after a '---' line of text. `hint` goes with a built-in schema's problems."""
    problems = []
    for index, obj in enumerate(objects):
        found = object_problems(obj, kubernetes_version, tuple(locations))
        if not found:
            continue
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        for problem in found:
            line, col = locate(text, index, problem.path, shown)
            problems.append(Diagnostic(shown, line, col, json_path(problem.path),
                                       f"{obj.get('kind')} {name}: {problem.message}",
                                       problem.hint or hint))
    return problems


def locate(text: str, index: int, path: PathKey, shown: str) -> tuple[int, int]:
    """Line and column in a rendered file of `path` inside its index-th object (its '---' line when the
    object cannot be parsed)."""
    found = documents(text)
    if index >= len(found):
        return 1, 1
    first, chunk = found[index]
    doc, _ = parse(chunk, shown)
    if doc is None:
        return first - 1, 1
    _, line, column = doc.where(path)
    return first + line - 1, column
