"""Secrets never belong in input files: a literal NGC API key anywhere is an error, reported without echoing it."""

from __future__ import annotations

import re
from typing import Any

from ..diagnostics import Diagnostic
from .load import Document, PathKey

NGC_KEY_PATTERN = re.compile(r"nvapi-[A-Za-z0-9_-]{8,}")


def scan_for_secrets(doc: Document) -> list[Diagnostic]:
    """A literal NGC API key anywhere in the input is an error: keys belong in Secrets, never in git."""
    found: list[Diagnostic] = []

    def walk(value: Any, path: PathKey) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, path + (key,))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, path + (i,))
        elif isinstance(value, str) and NGC_KEY_PATTERN.search(value):
            found.append(doc.diagnostic(path, "a literal NGC API key (nvapi-...) must never be written in an input file",
                                        "store it in a Secret (key NGC_API_KEY) and name the Secret in spec.store.ngc.secret; "
                                        "then revoke this key, it is in git history now"))

    walk(doc.data, ())
    return found
