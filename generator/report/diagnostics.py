"""Diagnostics as text, JSON or GitHub workflow annotations; every format prints them made safe (control
characters escaped, NGC keys redacted: see Diagnostic.shown)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Sequence

from ..diagnostics import Diagnostic


def render(diagnostics: Sequence[Diagnostic], fmt: str) -> str:
    ordered = sorted(diagnostics)
    if fmt == "json":
        return json.dumps([asdict(d.shown()) for d in ordered], indent=2) + "\n"
    if fmt == "github":
        return "".join(d.github() + "\n" for d in ordered)
    if fmt == "markdown":
        return "".join(_markdown(d) + "\n" for d in ordered)
    return "".join(d.text() + "\n" for d in ordered)


def _markdown(diagnostic: Diagnostic) -> str:
    """A list item for a pull-request comment: where, what, and the hint."""
    d = diagnostic.shown()
    hint = f" _(hint: {d.hint})_" if d.hint else ""
    return f"- **{d.severity}** `{d.file}:{d.line}:{d.column}` `{d.path}`: {d.message}{hint}".replace("|", "\\|")
