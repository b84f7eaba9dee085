"""Secrets never belong in input files: a literal NGC API key anywhere (a value, a mapping key, the file's own
name or folder) is an error, reported without echoing it (diagnostics redact keys when printed, too)."""

from __future__ import annotations

from typing import Any

from ..diagnostics import NGC_KEY_PATTERN, Diagnostic
from .load import Document, PathKey

MESSAGE = "a literal NGC API key (nvapi-...) must never be written in an input file"
HINT = ("store it in a Secret (key NGC_API_KEY) and name the Secret in spec.store.ngc.secret; "
        "then revoke this key, it is in git history now")


def scan_for_secrets(doc: Document) -> list[Diagnostic]:
    """A literal NGC API key anywhere in the input is an error: keys belong in Secrets, never in git."""
    found: list[Diagnostic] = []
    search = NGC_KEY_PATTERN.search

    def walk(value: Any, path: PathKey) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                if search(key):
                    found.append(doc.diagnostic(path + (key,), MESSAGE + ", not even as a mapping key",
                                                HINT, key=True))
                walk(child, path + (key,))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, path + (i,))
        elif isinstance(value, str) and search(value):
            found.append(doc.diagnostic(path, MESSAGE, HINT))

    walk(doc.data, ())
    return found


def scan_path(shown: str) -> list[Diagnostic]:
    """A key in the name of an input file or of a folder above it: the file is not read at all."""
    if not NGC_KEY_PATTERN.search(shown):
        return []
    return [Diagnostic(shown, 1, 1, "$", "a literal NGC API key (nvapi-...) must never be part of a file or folder "
                       "name", "rename it; then revoke this key, it is in git history now")]
