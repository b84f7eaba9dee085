"""Stage 1, load: read one YAML file into plain data plus the line/column of every node.

PyYAML's C composer already records marks on every node, so composing with CSafeLoader and building the data
ourselves from the node tree keeps positions at C speed (round-trip loaders are several times slower).
A file that cannot be read or parsed becomes a Diagnostic, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..diagnostics import Diagnostic, json_path

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathKey = tuple  # ('spec', 'tolerations', 0)
Position = tuple  # (file, line, column)


@dataclass
class Document:
    """One YAML document: its data and where each value (and each mapping key) was written."""

    file: str                                   # path as shown to the user (relative to the repo root)
    data: Any
    # (file, line, column) of each value and each mapping key; a layered document mixes files.
    positions: dict[PathKey, Position] = field(default_factory=dict)
    key_positions: dict[PathKey, Position] = field(default_factory=dict)

    def where(self, path: PathKey, key: bool = False) -> Position:
        """Position of `path`, falling back to its closest written ancestor."""
        path = tuple(path)
        if key and path in self.key_positions:
            return self.key_positions[path]
        while path and path not in self.positions:
            path = path[:-1]
        return self.positions.get(path, (self.file, 1, 1))

    def diagnostic(self, path: PathKey, message: str, hint: str | None = None, *, key: bool = False,
                   severity: str = "error") -> Diagnostic:
        file, line, column = self.where(path, key=key)
        return Diagnostic(file, line, column, json_path(path), message, hint, severity)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Builds Python data from a composed node tree, recording positions as it goes."""

    def __init__(self, loader: Any, doc: Document):
        self.loader = loader
        self.doc = doc
        self.problems: list[Diagnostic] = []

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.doc.positions[path] = (self.doc.file, *_mark(node))
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves '<<' merge keys
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    line, col = _mark(key_node)
                    self.problems.append(Diagnostic(self.doc.file, line, col, json_path(path),
                                                    "mapping keys must be plain strings"))
                    continue
                # Keys are taken as written: YAML 1.1 would turn a key such as `on` into True.
                key = key_node.value
                child = path + (key,)
                if key in result:
                    line, col = _mark(key_node)
                    self.problems.append(Diagnostic(self.doc.file, line, col, json_path(child),
                                                    f"duplicate key '{key}'",
                                                    "a later key silently replaces an earlier one; keep one"))
                self.doc.key_positions[child] = (self.doc.file, *_mark(key_node))
                result[key] = self.build(value_node, child)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node)


def parse(text: str, file: str) -> tuple[Document | None, list[Diagnostic]]:
    """Parse YAML text holding exactly one document. Returns (document or None, problems)."""
    doc = Document(file=file, data=None)
    loader = Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = exc.problem or str(exc)
        if exc.context and "expected a single document" in exc.context:
            return None, [Diagnostic(file, line, col, "$", "file holds more than one YAML document",
                                     "nimgen expects one document per file; split it")]
        context = f" ({exc.context})" if exc.context else ""
        hint = None
        if exc.context_mark is not None and exc.context_mark is not mark:
            hint = f"the construct started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        lines = text.split("\n")
        if mark is not None and mark.line < len(lines) and lines[mark.line][mark.column:mark.column + 1] == "\t":
            hint = "YAML does not allow tabs for indentation: use spaces"
        return None, [Diagnostic(file, line, col, "$", f"YAML syntax error: {message}{context}", hint)]
    except yaml.reader.ReaderError as exc:  # bad encoding or control characters
        before = text[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        return None, [Diagnostic(file, line, col, "$", f"cannot read YAML: {exc.reason} (character {exc.character!r})")]
    finally:
        loader.dispose()
    if node is None:
        return None, [Diagnostic(file, 1, 1, "$", "file is empty",
                                 "every input file holds one document with apiVersion and kind")]
    builder = _Builder(loader, doc)
    try:
        doc.data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:  # e.g. an invalid timestamp scalar
        mark = exc.problem_mark or exc.context_mark
        return None, [Diagnostic(file, mark.line + 1 if mark else 1, mark.column + 1 if mark else 1, "$",
                                 f"cannot construct value: {exc.problem}")]
    if not isinstance(doc.data, dict):
        line, col = _mark(node)
        kind = "a list" if isinstance(doc.data, list) else f"a {type(doc.data).__name__} value"
        builder.problems.append(Diagnostic(file, line, col, "$", f"document must be a mapping, found {kind}",
                                           "start the file with 'apiVersion: nimgen.dev/v1alpha1' and 'kind:'"))
        return None, builder.problems
    return doc, builder.problems


def load_file(path: Path, root: Path) -> tuple[Document | None, list[Diagnostic]]:
    shown = display_path(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Diagnostic(shown, 1, 1, "$", f"cannot read file: {exc}")]
    return parse(text, shown)


def display_path(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
