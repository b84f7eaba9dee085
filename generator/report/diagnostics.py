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
    return "".join(d.text() + "\n" for d in ordered)
