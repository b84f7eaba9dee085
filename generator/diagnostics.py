"""Errors as values: every stage reports problems as Diagnostics.

A Diagnostic always names a file, a 1-based line and column, and the JSON path of the field, so a user can
jump straight to the problem. Stages collect all diagnostics before stopping; `BuildFailed` carries them out;
report/diagnostics.py prints them.

Every part of a diagnostic may hold text an input chose (a file name, a key, a value quoted in a message), so
each is made safe once, here, whatever the output format: control characters (C0, DEL, C1, line and paragraph
separators, bidirectional and other format characters, lone surrogates) print as escapes, so no input can start a
line of its own (a forged `FILE:LINE:COL` or GitHub workflow command) or recolour a terminal; and a literal NGC
API key never prints, wherever it was written.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence

ERROR = "error"
WARNING = "warning"
NOTE = "note"                          # what nimgen did on the user's behalf that they may not expect
# GitHub's workflow commands for each severity (::error, ::warning, ::notice)
GITHUB_COMMAND = {ERROR: "error", WARNING: "warning", NOTE: "notice"}

# A literal NGC API key: never in an input file, never echoed.
NGC_KEY_PATTERN = re.compile(r"nvapi-[A-Za-z0-9_-]{8,}")
REDACTED = "nvapi-<redacted>"
# Literal credentials of the services a NIM deployment talks to, by their documented prefixes: Hugging Face
# user access tokens (hf_), AWS access key ids (AKIA/ASIA + 16), GitHub tokens (ghp_/gho_/ghu_/ghs_/ghr_,
# github_pat_), OpenAI-style keys (sk-), Slack tokens (xox?-), PEM private keys. An env value that matches is
# refused like an NGC key, and never echoed.
CREDENTIAL_PATTERN = re.compile(
    r"nvapi-[A-Za-z0-9_-]{8,}|hf_[A-Za-z0-9]{20,}|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}|\bsk-[A-Za-z0-9_-]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----")
# A URL's user information (scheme://user:password@host): redacted wherever a message repeats a URL.
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")

# C0 and DEL, C1, line/paragraph separators, bidirectional controls, BOM/zero-width format characters, surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff"
                     "\ufff9-\ufffb\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """`text` with control characters escaped and NGC keys redacted: fit to print on one line of any output."""
    if _UNSAFE.search(text):
        text = _UNSAFE.sub(_escape, text)
    if "nvapi-" in text:
        text = NGC_KEY_PATTERN.sub(REDACTED, text)
    if CREDENTIAL_PATTERN.search(text):
        text = CREDENTIAL_PATTERN.sub("<redacted>", text)
    if "@" in text and _URL_USERINFO.search(text):
        text = _URL_USERINFO.sub(r"\1<redacted>@", text)
    return text


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str | None = None
    severity: str = ERROR

    def shown(self) -> Diagnostic:
        """This diagnostic with every text part made safe to print (see `safe`)."""
        return replace(self, file=safe(self.file), path=safe(self.path), message=safe(self.message),
                       hint=None if self.hint is None else safe(self.hint))

    def text(self) -> str:
        d = self.shown()
        hint = f" [hint: {d.hint}]" if d.hint else ""
        prefix = f"{d.severity}: " if d.severity != ERROR else ""
        return f"{d.file}:{d.line}:{d.column}: {d.path}: {prefix}{d.message}{hint}"

    def github(self) -> str:
        # A GitHub workflow command: '%', CR and LF escaped in the message, and ',' and ':' too in a property.
        d = self.shown()
        message = f"{d.path}: {d.message}" + (f" (hint: {d.hint})" if d.hint else "")
        return f"::{GITHUB_COMMAND[d.severity]} file={github_property(d.file)},line={d.line},col={d.column}::{github_data(message)}"


def github_data(text: str) -> str:
    """Text of a GitHub workflow command: '%', CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A property of a GitHub workflow command (file=...): ':' and ',' escaped too."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


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


def display_path(path: Path, root: Path) -> str:
    """`path` as every message shows it: relative to the repository root, as found (symbolic links not resolved);
    never an absolute path (only the name of a file outside the repository)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        try:
            return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
        except ValueError:
            return path.name
