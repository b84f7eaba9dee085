"""The build cache: rendered and verified file text keyed by everything that decides it.

A key is the SHA-256 of the generator's fingerprint (its code, CRD schemas and library versions) and the
canonical JSON of the model values a file is rendered from (explain-only fields left out). Equal models give
equal keys on any machine and under any hash seed; any change of input or code gives a new key. Only verified
text is stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def canonical(value: Any) -> Any:
    """A model value as plain JSON data, each dataclass tagged with its type (variants of a union differ)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        found = {"@": type(value).__name__}
        for f in dataclasses.fields(value):
            if f.compare:
                found[f.name] = canonical(getattr(value, f.name))
        return found
    if isinstance(value, (tuple, list)):
        return [canonical(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"{type(value).__name__} has no canonical form")


def model_key(*values: Any) -> str:
    return json.dumps(canonical(values), sort_keys=True, separators=(",", ":"), allow_nan=False)


class BuildCache:
    def __init__(self, folder: Path, fingerprint: str):
        self.folder = folder
        self.fingerprint = fingerprint
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(f"{self.fingerprint}\0{key}".encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.yaml"

    def get(self, key: str) -> str | None:
        try:
            text = self._path(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.misses += 1
            return None
        self.hits += 1
        return text

    def put(self, key: str, text: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
            os.replace(tmp, path)
        except OSError:
            pass  # a cache that cannot be written only costs speed
