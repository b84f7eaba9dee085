"""Errors as values: every stage reports problems as Diagnostics.

A Diagnostic always names a file, a 1-based line and column, and the JSON path of the field, so a user can
jump straight to the problem. Stages collect all diagnostics before stopping; `BuildFailed` carries them out;
report/diagnostics.py prints them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str | None = None
    severity: str = ERROR

    def text(self) -> str:
        hint = f" [hint: {self.hint}]" if self.hint else ""
        prefix = "warning: " if self.severity == WARNING else ""
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {prefix}{self.message}{hint}"

    def github(self) -> str:
        # GitHub workflow command; '%', CR and LF must be escaped in the message.
        message = f"{self.path}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")
        message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::{self.severity} file={self.file},line={self.line},col={self.column}::{message}"


class BuildFailed(Exception):
    """Raised by a stage when it found user errors; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        super().__init__(f"{len(diagnostics)} problem(s)")
        self.diagnostics = tuple(diagnostics)


def errors_in(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d.severity == ERROR]


def json_path(parts: Iterable[str | int]) -> str:
    """('spec', 'tolerations', 0, 'key') -> 'spec.tolerations[0].key'; the document root is '$'."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "$"
