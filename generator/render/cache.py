"""The build cache: rendered and verified file text keyed by everything that decides it.

A key is the SHA-256 of the generator's fingerprint (its code, CRD schemas and library versions) and the
canonical JSON of the model values a file is rendered from (explain-only fields left out). Equal models give
equal keys on any machine and under any hash seed; any change of input or code gives a new key. Only verified
text is stored.

An entry is sealed: its first line is `nimgen-cache sha256=<hex>`, the SHA-256 of the entry's own name (its key
digest) and the text after that line. An entry whose seal does not match (garbled, truncated, written under
another key, of an older format) is deleted and counted as a miss, so the file is rendered and verified again:
such an entry never reaches out/, and `check` and `plan`, which compare out/ with text built through this cache,
never take it as the fresh build.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
import hashlib
import hmac
import json
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any


_SCALARS = frozenset({str, int, float, bool, type(None)})
_COMPARED: dict[type, tuple[str, ...]] = {}     # per dataclass, the fields that take part in equality


def canonical(value: Any) -> Any:
    """A model value as plain JSON data, each dataclass tagged with its type (variants of a union differ).
    Dispatched on the exact type first: every build computes the key of every file."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is tuple or kind is list:
        return [canonical(v) for v in value]
    names = _COMPARED.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _COMPARED[kind] = tuple(f.name for f in dataclasses.fields(value) if f.compare)
    if names is not None:
        found = {"@": kind.__name__}
        for name in names:
            found[name] = canonical(getattr(value, name))
        return found
    if isinstance(value, Enum):
        return canonical(value.value)
    if isinstance(value, (str, int, float, bool)):     # a subclass of a scalar type
        return value
    if isinstance(value, Decimal):
        return {"@": "Decimal", "value": str(value)}
    raise TypeError(f"{kind.__name__} has no canonical form")


def model_key(*values: Any) -> str:
    return json.dumps(canonical(values), sort_keys=True, separators=(",", ":"), allow_nan=False)


SEAL = b"nimgen-cache sha256="


def seal(digest: str, text: str) -> bytes:
    """An entry's bytes: the seal line, then the text."""
    body = text.encode("utf-8")
    return SEAL + _hash(digest, body).encode() + b"\n" + body


def unseal(digest: str, data: bytes) -> str | None:
    """The text of an entry, or None when its seal does not match."""
    first, newline, body = data.partition(b"\n")
    if not newline or not first.startswith(SEAL):
        return None
    if not hmac.compare_digest(first[len(SEAL):], _hash(digest, body).encode()):
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _hash(digest: str, body: bytes) -> str:
    return hashlib.sha256(digest.encode() + b"\0" + body).hexdigest()


class BuildCache:
    def __init__(self, folder: Path, fingerprint: str):
        self.folder = folder
        self.fingerprint = fingerprint
        self.hits = 0
        self.misses = 0
        self.discarded = 0                       # entries whose seal did not match (deleted)

    def _digest(self, key: str) -> str:
        return hashlib.sha256(f"{self.fingerprint}\0{key}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        digest = self._digest(key)
        return self.folder / digest[:2] / f"{digest}.yaml"

    def empty(self) -> bool:
        """Whether the cache holds no entry at all (a first build, or one after `make clean`)."""
        try:
            return not any(self.folder.iterdir())
        except OSError:
            return True

    def get(self, key: str) -> str | None:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except OSError:
            self.misses += 1
            return None
        text = unseal(path.stem, data)
        if text is None:
            self.discarded += 1
            self.misses += 1
            try:
                path.unlink()
            except OSError:
                pass  # put() replaces it once the file is rendered again
            return None
        self.hits += 1
        return text

    def put(self, key: str, text: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(seal(path.stem, text))
                os.replace(tmp, path)
            except OSError:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a cache that cannot be written only costs speed
