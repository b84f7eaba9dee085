"""Stage 1, load: read one YAML file into plain data plus the line/column of every node.

The data is built straight from libyaml's event stream (PyYAML's C parser), iteratively: no composer, no
recursion, so any input costs bounded work and every limit is a located error, never a crash:

- a file is at most MAX_FILE_BYTES, UTF-8 (a leading byte order mark is allowed), with no control characters;
- collections nest at most MAX_DEPTH deep (aliases included);
- a document holds at most MAX_VALUES values once its aliases are expanded (a "billion laughs" stops here), and
  an alias can never refer to the collection that contains it (a recursive alias or `<<` merge);
- values are JSON's: strings, numbers, booleans, null, lists and mappings with string keys (taken as written).
  A plain scalar that YAML 1.1 would read as a date stays the string written; an explicit tag of any other type
  (`!!set`, `!!binary`, `!!timestamp`, `!!omap`, custom tags) is an error.

A file that cannot be read or parsed becomes a Diagnostic, never an exception.
"""

from __future__ import annotations

import enum
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

import yaml
from yaml.events import (AliasEvent, MappingEndEvent, MappingStartEvent, ScalarEvent, SequenceEndEvent,
                         SequenceStartEvent, StreamEndEvent)

from ..diagnostics import Diagnostic, display_path, json_path

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PathKey: TypeAlias = tuple[str | int, ...]  # ('spec', 'tolerations', 0)
Position: TypeAlias = tuple[str, int, int]  # (file, line, column)
_Located: TypeAlias = tuple[PathKey, int, int]  # (path, line, column) of a value or key as the builder records it

MAX_FILE_BYTES = 1 << 20         # 1 MiB per input file
MAX_DEPTH = 64                   # nested lists and mappings
MAX_VALUES = 100_000             # values of one document, aliases expanded

_TAG = "tag:yaml.org,2002:"
_JSON_SCALARS = {_TAG + "null", _TAG + "bool", _TAG + "int", _TAG + "float"}
_COLLECTION_TAGS = {MappingStartEvent: {None, "!", _TAG + "map"}, SequenceStartEvent: {None, "!", _TAG + "seq"}}
# Characters YAML forbids, plus those that break lines where editors see none (NEL, LS, PS) and a byte order mark
# after the start of the file.
_FORBIDDEN = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]")


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


class _Stop(Exception):
    """A problem after which the rest of the document is not read."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _mark(event: Any) -> tuple[int, int]:
    return event.start_mark.line + 1, event.start_mark.column + 1


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


def _copy(value: Any) -> Any:
    """A fresh copy of built data (depth is bounded by MAX_DEPTH)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


class _Built:
    """A finished value and where its positions sit: values[v0:v1] and keys[k0:k1], paths under `path`."""

    __slots__ = ("value", "path", "v0", "v1", "k0", "k1", "size", "height", "raw")

    def __init__(self, value: Any, path: PathKey | None, v0: int, v1: int, k0: int, k1: int, size: int, height: int,
                 raw: str | None = None):
        self.value, self.path, self.v0, self.v1, self.k0, self.k1 = value, path, v0, v1, k0, k1
        self.size, self.height, self.raw = size, height, raw


class _Mark(enum.Enum):
    """Markers the builder keeps in place of an anchored value or a mapping's key; compared by identity."""

    OPEN = enum.auto()
    EXPECT_KEY = enum.auto()
    COMPLEX_KEY = enum.auto()
    BAD_KEY = enum.auto()
    MERGE_KEY = enum.auto()


_OPEN: Final = _Mark.OPEN                  # an anchor whose collection is still being read
_EXPECT_KEY: Final = _Mark.EXPECT_KEY      # a mapping waiting for its next key
_COMPLEX_KEY: Final = _Mark.COMPLEX_KEY    # a collection written as a key is being read
_BAD_KEY: Final = _Mark.BAD_KEY            # the key just read was not a plain string: its value is dropped
_MERGE_KEY: Final = _Mark.MERGE_KEY        # the key just read was '<<': its value is merged in
_MERGE = "<<"


class _Frame:
    __slots__ = ("mapping", "path", "value", "anchor", "count0", "v0", "k0", "height", "key", "merges")

    def __init__(self, mapping: bool, path: PathKey | None, anchor: str | None, count0: int, v0: int, k0: int):
        self.mapping, self.path, self.anchor = mapping, path, anchor
        self.value: dict[str, Any] | list[Any] = {} if mapping else []
        self.count0, self.v0, self.k0 = count0, v0, k0
        self.height = 1
        self.key: str | _Mark = _EXPECT_KEY     # a mapping's key whose value comes next, or a marker
        self.merges: list[_Built] = []


class _Builder:
    """Builds Python data from the event stream, recording positions as it goes (see the module docstring)."""

    def __init__(self, loader: Any, file: str):
        self.loader = loader
        self.file = file
        self.problems: list[Diagnostic] = []
        self.broken = False                       # a value could not be built: the document is not usable
        self.values: list[_Located] = []          # (path, line, column), in document order
        self.keys: list[_Located] = []
        self.anchors: dict[str, _Built | Literal[_Mark.OPEN]] = {}
        self.count = 0

    def stop(self, event: Any, path: PathKey | None, message: str, hint: str | None = None) -> _Stop:
        line, col = _mark(event)
        return _Stop(Diagnostic(self.file, line, col, json_path(path or ()), message, hint))

    def problem(self, event: Any, path: PathKey | None, message: str, hint: str | None = None) -> None:
        line, col = _mark(event)
        self.problems.append(Diagnostic(self.file, line, col, json_path(path or ()), message, hint))

    def counted(self, event: Any, path: PathKey | None, added: int) -> None:
        self.count += added
        if self.count > MAX_VALUES:
            raise self.stop(event, path, f"the document holds more than {MAX_VALUES} values (aliases expanded)",
                            "inputs are small; an alias that repeats an alias multiplies: write the values out")

    def document(self) -> Any:
        """The data of the one document the stream holds (the stream's and the document's start were read)."""
        stack: list[_Frame] = []
        get = self.loader.get_event
        while True:
            event = get()
            kind = type(event)
            if kind is MappingEndEvent or kind is SequenceEndEvent:
                built = self.finish(stack.pop())
                if not stack:
                    return built.value
                self.deliver(stack[-1], built, event)
                continue
            parent = stack[-1] if stack else None
            path: PathKey | None = ()
            if parent is not None:
                if parent.mapping and parent.key is _EXPECT_KEY and self.key(parent, event):
                    continue
                path = self.child_path(parent)
            if kind is ScalarEvent:
                built = self.scalar(event, path)
            elif kind is AliasEvent:
                built = self.alias(event, path, len(stack), parent)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    raise self.stop(event, path, f"values nest deeper than {MAX_DEPTH} levels",
                                    "inputs nest a few levels; flatten the structure")
                if event.tag not in _COLLECTION_TAGS[kind]:
                    self.unsupported(event, path)
                self.counted(event, path, 1)
                v0 = len(self.values)
                if path is not None:
                    self.values.append((path, *_mark(event)))
                if event.anchor is not None:
                    self.anchors[event.anchor] = _OPEN
                stack.append(_Frame(kind is MappingStartEvent, path, event.anchor, self.count - 1, v0, len(self.keys)))
                continue
            else:  # pragma: no cover - libyaml emits only the events above inside a document
                raise self.stop(event, path, f"unexpected YAML event {kind.__name__}")
            if parent is None:
                return built.value
            self.deliver(parent, built, event)

    def child_path(self, parent: _Frame) -> PathKey | None:
        if parent.path is None:
            return None
        if not parent.mapping:
            return parent.path + (len(parent.value),)
        key = parent.key
        if key is _MERGE_KEY:
            return parent.path + (_MERGE,)
        if not isinstance(key, str):
            return None
        return parent.path + (key,)

    def key(self, frame: _Frame, event: Any) -> bool:
        """Read a mapping key; False when the event is not one (a collection as a key)."""
        kind = type(event)
        key: str
        if kind is ScalarEvent:
            key = event.value
            if event.anchor is not None:
                self.anchors[event.anchor] = _Built(key, None, 0, 0, 0, 0, 1, 0, raw=key)
            merge = key == _MERGE and event.tag is None and event.implicit[0]
        elif kind is AliasEvent:
            anchored = self.anchors.get(event.anchor)
            if not isinstance(anchored, _Built) or anchored.raw is None:
                self.problem(event, frame.path, "mapping keys must be plain strings")
                frame.key = _BAD_KEY
                return True
            key, merge = anchored.raw, False
        else:
            self.problem(event, frame.path, "mapping keys must be plain strings")
            frame.key = _COMPLEX_KEY
            return False
        if merge:
            frame.key = _MERGE_KEY
            return True
        if frame.path is not None:
            child = frame.path + (key,)
            if key in frame.value:
                self.problem(event, child, f"duplicate key '{key}'",
                             "a later key silently replaces an earlier one; keep one")
            self.keys.append((child, *_mark(event)))
        frame.key = key
        return True

    def scalar(self, event: Any, path: PathKey | None) -> _Built:
        self.counted(event, path, 1)
        start = len(self.values)
        if path is not None:
            self.values.append((path, *_mark(event)))
        tag = event.tag
        value: Any = event.value
        if tag is None or tag == "!":
            tag = self.loader.resolve(yaml.ScalarNode, value, event.implicit)
            if tag not in _JSON_SCALARS:
                tag = None                  # a plain date (or '=', '<<') stays the string written
        elif tag == _TAG + "str":
            tag = None
        elif tag not in _JSON_SCALARS:
            self.unsupported(event, path)
            tag = None
        if tag is not None:
            node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
            try:
                value = self.loader.yaml_constructors[tag](self.loader, node)
            except Exception:  # noqa: BLE001 - any value a constructor cannot read is the input's problem
                shown = value if len(value) <= 40 else value[:40] + "..."
                self.problem(event, path, f"{shown!r} cannot be read as {_short_tag(tag)}",
                             "quote the value to keep it a string")
                self.broken = True
                value = None
        built = _Built(value, path, start, len(self.values), len(self.keys), len(self.keys), 1, 0, raw=event.value)
        if event.anchor is not None:
            self.anchors[event.anchor] = built
        return built

    def unsupported(self, event: Any, path: PathKey | None) -> None:
        self.problem(event, path, f"the tag {_short_tag(event.tag)} is not supported: input values are strings, "
                     "numbers, booleans, null, lists and mappings",
                     "drop the tag (quote a value that must stay a string)")
        self.broken = True

    def alias(self, event: Any, path: PathKey | None, depth: int, parent: _Frame | None) -> _Built:
        name = event.anchor
        anchored = self.anchors.get(name)
        if anchored is None:
            raise self.stop(event, path, f"alias *{name} refers to no anchor &{name} written before it")
        if anchored is _OPEN:
            raise self.stop(event, path, f"alias *{name} refers to the value that contains it (a recursive alias)",
                            "an alias can repeat only a value that is complete where the alias is written")
        if depth + anchored.height > MAX_DEPTH:
            raise self.stop(event, path, f"values nest deeper than {MAX_DEPTH} levels (alias *{name} expanded)",
                            "inputs nest a few levels; flatten the structure")
        self.counted(event, path, anchored.size)
        start, kstart = len(self.values), len(self.keys)
        merging = parent is not None and parent.mapping and parent.key is _MERGE_KEY
        if merging:   # merged later, key by key, from the anchor's own positions
            return anchored
        if path is not None:
            self.values.append((path, *_mark(event)))
            if anchored.path is not None:
                cut = len(anchored.path)
                self.values.extend((path + p[cut:], line, col) for p, line, col in self.values[anchored.v0 + 1:anchored.v1])
                self.keys.extend((path + p[cut:], line, col) for p, line, col in self.keys[anchored.k0:anchored.k1])
        return _Built(_copy(anchored.value), path, start, len(self.values), kstart, len(self.keys),
                      anchored.size, anchored.height, raw=anchored.raw)

    def deliver(self, parent: _Frame, built: _Built, event: Any) -> None:
        parent.height = max(parent.height, built.height + 1)
        value = parent.value
        if isinstance(value, list):               # a sequence's frame (not parent.mapping)
            value.append(built.value)
            return
        key = parent.key
        parent.key = _BAD_KEY if key is _COMPLEX_KEY else _EXPECT_KEY
        if key is _BAD_KEY or key is _COMPLEX_KEY:
            return
        if key is _MERGE_KEY:
            sources = [built]
            if isinstance(built.value, list):
                sources = [_Built(item, None if built.path is None else built.path + (i,), built.v0, built.v1,
                                  built.k0, built.k1, 0, 0) for i, item in enumerate(built.value)]
            if not all(isinstance(s.value, dict) for s in sources):
                self.problem(event, parent.path, "a merge key '<<' takes a mapping, an alias of one, or a list of them")
                self.broken = True
                return
            parent.merges.extend(sources)
            return
        if isinstance(key, str):                  # always: _EXPECT_KEY and _OPEN are never a delivered key
            value[key] = built.value

    def finish(self, frame: _Frame) -> _Built:
        value = frame.value
        if frame.merges and isinstance(value, dict):    # only a mapping's frame has merges
            merged: dict[str, Any] = {}
            for source in frame.merges:           # earlier sources win, keys written in the mapping win over all
                for key, item in source.value.items():
                    if key in merged or key in value:
                        continue
                    merged[key] = _copy(item)
                    if frame.path is not None and source.path is not None:
                        self.replant(source, source.path + (key,), frame.path + (key,))
            value = {**merged, **value}
            frame.value = value
        built = _Built(value, frame.path, frame.v0, len(self.values), frame.k0, len(self.keys),
                       self.count - frame.count0, frame.height)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = built
        return built

    def replant(self, source: _Built, prefix: PathKey, path: PathKey) -> None:
        """Copy the positions of source.value[key] (and below), written at `prefix` (source.path + (key,)),
        to `path`."""
        cut = len(prefix)
        self.values.extend((path + p[cut:], line, col) for p, line, col in self.values[source.v0:source.v1]
                           if p[:cut] == prefix)
        self.keys.extend((path + p[cut:], line, col) for p, line, col in self.keys[source.k0:source.k1]
                         if p[:cut] == prefix)


def parse(text: str, file: str) -> tuple[Document | None, list[Diagnostic]]:
    """Parse YAML text holding exactly one document. Returns (document or None, problems)."""
    loader = Loader(text)
    builder = _Builder(loader, file)
    try:
        loader.get_event()                                  # the stream's start
        if loader.check_event(StreamEndEvent):
            return None, [Diagnostic(file, 1, 1, "$", "file is empty",
                                     "every input file holds one document with apiVersion and kind")]
        loader.get_event()                                  # the document's start
        data = builder.document()
        loader.get_event()                                  # the document's end
        if not loader.check_event(StreamEndEvent):
            line, col = _mark(loader.peek_event())
            return None, [Diagnostic(file, line, col, "$", "file holds more than one YAML document",
                                     "nimgen expects one document per file; split it")]
    except _Stop as stop:
        return None, builder.problems + [stop.diagnostic]
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_error(exc, text, file)]
    except yaml.reader.ReaderError as exc:  # bad encoding or control characters
        line, col = _line_col(text.encode("utf-8", "surrogatepass")[: exc.position].decode("utf-8", "replace"))
        return None, [Diagnostic(file, line, col, "$", f"cannot read YAML: {exc.reason} (character {exc.character!r})")]
    finally:
        loader.dispose()
    if builder.broken:
        return None, builder.problems
    doc = Document(file=file, data=data)
    doc.positions = {path: (file, line, col) for path, line, col in builder.values}
    doc.key_positions = {path: (file, line, col) for path, line, col in builder.keys}
    if not isinstance(data, dict):
        line, col = doc.positions.get((), (file, 1, 1))[1:]
        kind = "a list" if isinstance(data, list) else "null" if data is None else f"a {type(data).__name__} value"
        builder.problems.append(Diagnostic(file, line, col, "$", f"document must be a mapping, found {kind}",
                                           "start the file with 'apiVersion: nimgen.dev/v1alpha1' and 'kind:'"))
        return None, builder.problems
    return doc, builder.problems


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    message = exc.problem or str(exc)
    context = f" ({exc.context})" if exc.context else ""
    hint = None
    if exc.context_mark is not None and exc.context_mark is not mark:
        hint = f"the construct started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
    lines = text.split("\n")
    if mark is not None and mark.line < len(lines) and lines[mark.line][mark.column:mark.column + 1] == "\t":
        hint = "YAML does not allow tabs for indentation: use spaces"
    return Diagnostic(file, line, col, "$", f"YAML syntax error: {message}{context}", hint)


def _line_col(before: str) -> tuple[int, int]:
    """1-based line and column of the character after `before`."""
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


def decode(data: bytes, file: str) -> tuple[str | None, list[Diagnostic]]:
    """The text of an input file: UTF-8 (a leading byte order mark dropped), no control characters."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Diagnostic(file, 1, 1, "$", "file is UTF-16 or UTF-32 (it starts with a byte order mark)",
                                 "save it as UTF-8")]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = _line_col(data[: exc.start].decode("utf-8", "replace"))
        return None, [Diagnostic(file, line, col, "$", f"file is not UTF-8: byte 0x{data[exc.start]:02x} is not "
                                 "valid here", "save it as UTF-8")]
    bad = _FORBIDDEN.search(text)
    if bad:
        char = bad.group()
        line, col = _line_col(text[: bad.start()])
        if char == "\ufeff":
            return None, [Diagnostic(file, line, col, "$", "a byte order mark (U+FEFF) is allowed only at the start of "
                                     "a file", "remove it: an editor may have joined two files")]
        return None, [Diagnostic(file, line, col, "$", f"the character U+{ord(char):04X} is not allowed in an input file",
                                 "write control characters as escapes in a double-quoted string, e.g. \"\\t\"")]
    return text, []


def load_file(path: Path, root: Path, shown: str | None = None) -> tuple[Document | None, list[Diagnostic]]:
    """Read and parse one input file. Never blocks: only a regular file is read (a FIFO is opened non-blocking
    and refused), and at most MAX_FILE_BYTES of it."""
    shown = shown if shown is not None else display_path(path, root)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, [Diagnostic(shown, 1, 1, "$", f"cannot read file: {exc.strerror or 'error'}")]
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, [Diagnostic(shown, 1, 1, "$", f"{special_kind(info.st_mode)} is not a regular file",
                                     "inputs are YAML files")]
        if info.st_size > MAX_FILE_BYTES:
            return None, [_too_large(shown, info.st_size)]
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        return None, [Diagnostic(shown, 1, 1, "$", f"cannot read file: {exc.strerror or 'error'}")]
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        return None, [_too_large(shown, size)]
    text, problems = decode(b"".join(chunks), shown)
    if text is None:
        return None, problems
    return parse(text, shown)


def _too_large(shown: str, size: int) -> Diagnostic:
    return Diagnostic(shown, 1, 1, "$", f"file is larger than 1 MiB ({size} bytes): nimgen reads at most "
                      f"{MAX_FILE_BYTES} bytes per input file", "inputs are small YAML files; split it")


def special_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"
