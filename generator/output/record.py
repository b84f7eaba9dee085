"""The record of the last full build (.nimgen/build-record.json): a hash of every input file, of what else decides
the output (nimgen's code and data, Python's and the libraries' versions), and of every file of out/ as the build
left it, with the build's counts and warnings. A build whose state matches the record has nothing to do: out/ is
provably what those inputs produce, so it stops after hashing (no parsing, no resolving, no Node.js).

`check` never reads it: its verdict comes from rendering afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic
from .read import read_out

RECORD = Path(".nimgen") / "build-record.json"
RECORD_VERSION = 1
INPUT_FOLDERS = ("environments", "templates")


@dataclass(frozen=True)
class State:
    fingerprint: str
    inputs: dict[str, str]               # repository-relative path -> SHA-256
    out: dict[str, str]                  # out-relative path -> SHA-256


@dataclass(frozen=True)
class Record:
    state: State
    environments: int
    workloads: int
    warnings: list[Diagnostic]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def input_hashes(root: Path) -> dict[str, str] | None:
    """Every input file's hash, or None when the inputs hold anything but plain folders and regular files (a
    symbolic link, a FIFO): only a real build judges those."""
    found: dict[str, str] = {}
    for top in INPUT_FOLDERS:
        base = root / top
        if not base.exists():
            continue
        pending = [base]
        while pending:
            folder = pending.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                return None
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    # a folder is part of the state too: an empty one named like an input is a problem to report
                    found[Path(entry.path).relative_to(root).as_posix() + "/"] = "folder"
                    pending.append(Path(entry.path))
                elif stat.S_ISREG(info.st_mode):
                    try:
                        found[Path(entry.path).relative_to(root).as_posix()] = _sha(Path(entry.path).read_bytes())
                    except OSError:
                        return None
                else:
                    return None
    return found


def out_hashes(target: Path) -> dict[str, str]:
    return {f"{env}/{rel}": _sha(data) for env, files in read_out(target, []).items() for rel, data in files.items()}


def current_state(root: Path, target: Path, fingerprint: str) -> State | None:
    inputs = input_hashes(root)
    return None if inputs is None else State(fingerprint, inputs, out_hashes(target))


def load(root: Path) -> Record | None:
    try:
        data: Any = json.loads((root / RECORD).read_text(encoding="utf-8"))
        if data.get("version") != RECORD_VERSION:
            return None
        state = State(data["fingerprint"], dict(data["inputs"]), dict(data["out"]))
        warnings = [Diagnostic(**w) for w in data["warnings"]]
        return Record(state, int(data["environments"]), int(data["workloads"]), warnings)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None                      # no record, or one that is not ours: build


def save(root: Path, record: Record) -> None:
    path = root / RECORD
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": RECORD_VERSION, "fingerprint": record.state.fingerprint, "inputs": record.state.inputs,
            "out": record.state.out, "environments": record.environments, "workloads": record.workloads,
            "warnings": [asdict(w) for w in record.warnings]}
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(temporary, path)


def forget(root: Path) -> None:
    try:
        (root / RECORD).unlink()
    except OSError:
        pass
