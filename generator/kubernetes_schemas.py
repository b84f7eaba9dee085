"""The strict Kubernetes JSON Schemas kubernetes-validate bundles, and which Kubernetes versions they cover.

Shared by inputs (a `kubernetesVersion` must be one nimgen has schemas for) and render (verify picks the newest
bundled version not newer than the environment's). Found without importing the package, which validate need not
pay for.
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from packaging.version import Version


@lru_cache(maxsize=None)
def schema_root() -> Path | None:
    """kubernetes-validate's folder of schemas (v<x.y.z>-local-strict/...), or None when it is not installed."""
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]).resolve() / "kubernetes-json-schema"
    return folder if folder.is_dir() else None


@lru_cache(maxsize=None)
def bundled_versions() -> tuple[str, ...]:
    """The x.y.z versions with bundled schemas, oldest first."""
    root = schema_root()
    found = {m[1] for p in (root.iterdir() if root else ()) if (m := re.match(r"^v([0-9]+\.[0-9]+\.[0-9]+)", p.name))}
    return tuple(sorted(found, key=Version))
