"""Reading out/: the bytes of each environment folder as one state of out/, and its manifests parsed."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

from ..diagnostics import BuildFailed, Diagnostic, errors_in
from ..inputs import sources
from ..manifests import Manifest, read_manifest

READ_ATTEMPTS = 20
KUSTOMIZATION = "kustomization.yaml"


def read_tree(folder: Path) -> dict[str, bytes]:
    """The files of an out/<env>/ folder (relative path -> bytes); names starting with a dot are not content."""
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)}


def out_environments(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) if out.is_dir() else []


def read_out(out: Path, envs: Iterable[str]) -> dict[str, dict[str, bytes]]:
    """out/<env>/ of every environment folder in out/ and of envs, read as one state of out/: a build commits by
    replacing the whole out/ folder at once (output/commit.py), so a read that saw it replaced is read again."""
    for _ in range(READ_ATTEMPTS):
        before = _identity(out)
        try:
            found = {env: read_tree(out / env) for env in sorted(set(out_environments(out)) | set(envs))}
        except (FileNotFoundError, NotADirectoryError):
            found = None                        # replaced while listing it
        except OSError as exc:
            shown = Path(exc.filename).name if exc.filename else "out"
            raise BuildFailed([Diagnostic("out", 1, 1, "$", f"cannot read out/ ({shown}): {exc.strerror or exc}",
                                          "make out/ readable")]) from None
        if found is not None and _identity(out) == before:
            return found
        time.sleep(0.05)
    raise BuildFailed([Diagnostic("out", 1, 1, "$", "out/ kept changing while nimgen read it",
                                  "another nimgen build is committing: try again when it has finished")])


def _identity(out: Path) -> tuple[int, int, int] | None:
    try:
        found = os.stat(out)
    except OSError:
        return None
    return found.st_dev, found.st_ino, found.st_ctime_ns


def is_manifest(relpath: str) -> bool:
    """A file of out/ that holds objects: YAML, not a kustomization, not hidden."""
    parts = relpath.split("/")
    return relpath.endswith(".yaml") and parts[-1] != KUSTOMIZATION and not any(p.startswith(".") for p in parts)


def out_manifests(root: Path, envs: list[str] | None = None) -> dict[str, dict[str, Manifest]]:
    """The manifests of out/<env>/ (every *.yaml but kustomization.yaml) of the selected environments (all by
    default): {env: {relpath: Manifest}}. Raises BuildFailed for unknown environments, a missing out/<env>/ and
    files that are not manifests (unreadable, YAML errors, a document that is not a mapping)."""
    selected, problems = sources.select_environments(root, envs)
    found: dict[str, dict[str, Manifest]] = {}
    for env in selected if not problems else []:
        folder = root / "out" / env
        if not folder.is_dir():
            problems.append(Diagnostic(f"out/{env}", 1, 1, "$", f"out/{env}/ does not exist",
                                       "run 'make build' to render it"))
            continue
        found[env] = {}
        for path in sorted(folder.rglob("*.yaml")):
            relpath = path.relative_to(folder).as_posix()
            if not is_manifest(relpath):
                continue
            shown = f"out/{env}/{relpath}"
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(Diagnostic(shown, 1, 1, "$", f"cannot read file: {exc}"))
                continue
            manifest, found_problems = read_manifest(text, shown)
            problems.extend(found_problems)
            if manifest is not None:
                found[env][relpath] = manifest
    if errors_in(problems):
        raise BuildFailed(problems)
    return found
