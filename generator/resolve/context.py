"""What every concern resolver of one workload shares: its document, its environment and project, the
gallery, the problems found so far, and the provenance record that `nimgen explain` prints."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import WARNING, Diagnostic, safe
from ..inputs.load import Document, PathKey
from ..model import Environment, Project, Provenance
from .catalog import CatalogModel


def suggest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"known: {', '.join(sorted(choices))}" if choices else None


def origin_label(file: str) -> str:
    return "base" if file.startswith("environments/base/") else "environment"


def sources_of(doc: Document) -> tuple[str, ...]:
    """The input files of a document, made safe as diagnostics are (control characters escaped): whatever an
    input's path holds, it stays on its one line of the out/ file header that names it."""
    return tuple(sorted({safe(pos[0]) for pos in doc.positions.values()}))


@dataclass
class Gallery:
    """Reusable entries by name: compute templates, data sources and catalog models (with their documents)."""

    compute: dict[str, Document] = field(default_factory=dict)
    datasources: dict[str, Document] = field(default_factory=dict)
    models: dict[str, CatalogModel] = field(default_factory=dict)
    invalid: set[tuple[str, str]] = field(default_factory=set)   # (kind, name) already reported as invalid


def _display(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


class WorkloadContext:
    """One InferenceWorkload being resolved; collects problems instead of stopping at the first."""

    def __init__(self, doc: Document, env: Environment, project: Project, gallery: Gallery):
        self.doc, self.env, self.project, self.gallery = doc, env, project, gallery
        self.spec: dict[str, Any] = doc.data["spec"]
        self.name: str = doc.data["metadata"]["name"]
        self.problems: list[Diagnostic] = []
        self.provenance: list[Provenance] = []

    def error(self, path: PathKey, message: str, hint: str | None = None, key: bool = False) -> None:
        self.problems.append(self.doc.diagnostic(path, message, hint, key=key))

    def warn(self, path: PathKey, message: str, hint: str | None = None) -> None:
        self.problems.append(self.doc.diagnostic(path, message, hint, severity=WARNING))

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)

    def record(self, path: str, value: Any, origin: str) -> Any:
        self.provenance.append(Provenance(path, _display(value), origin))
        return value

    def from_doc(self, path: PathKey) -> str:
        file, line, _ = self.doc.where(path)
        return f"{origin_label(file)} ({file}:{line})"

    def value(self, path: PathKey, default: Any = None, *, default_origin: str = "default") -> Any:
        """The value at `path` in the workload, recorded for explain with where it came from."""
        node: Any = self.doc.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                if default is not None:
                    self.record(".".join(map(str, path)), default, default_origin)
                return default
            node = node[part]
        self.record(".".join(map(str, path)), node, self.from_doc(path))
        return node
