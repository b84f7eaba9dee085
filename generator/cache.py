"""The build cache: rendered and verified file text keyed by everything that decides it.

A key is the SHA-256 of the generator's fingerprint (its code, CRD schemas and library versions) and the repr
of the frozen resolved objects a file is built from. Frozen dataclasses of tuples print deterministically, so
equal inputs give equal keys; any change of input or code gives a new key. Only verified text is stored.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


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
