"""Where the inputs live: the environments, their layered files, and the shared gallery in templates/.

environments/base/ is optional and shared by every environment: a file there and the environment's file with
the same relative path are two layers of one input. Only the known folders are read.

Folders are walked without following anything that leaves the repository: a symbolic link (to a file or a
folder) is followed only when it resolves inside the repository root, else it is an error, as is a dangling link
or a link loop; a FIFO, socket or device where an input could be is refused without being opened, and so is a
folder named like a YAML file. Names starting with '.' (editor lock and swap files) are skipped. Every path shown
is relative to the repository root, as found.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import Diagnostic, display_path

BASE = "base"
ENVIRONMENT_FILE = "environment.yaml"
INPUT_DIRS = {"projects": "Project", "workloads": "InferenceWorkload"}
GALLERY_DIRS = {"compute": "ComputeTemplate", "datasources": "DataSource", "models": "NimModel"}
YAML_SUFFIXES = (".yaml", ".yml")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")  # controls; bytes that are not UTF-8


@dataclass(frozen=True)
class Layer:
    """One logical input: its path relative to the environment folder and the files that make it up."""

    relpath: str
    base: Path | None
    env: Path | None

    @property
    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.base, self.env) if p is not None)


def environment_names(root: Path) -> list[str]:
    folder = root / "environments"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != BASE and not p.name.startswith("."))


def select_environments(root: Path, asked: list[str] | None) -> tuple[list[str], list[Diagnostic]]:
    """The environments a command works on (all by default) and, when there are none or one asked for does not
    exist, the errors that say so."""
    names = environment_names(root)
    if not names:
        return [], [Diagnostic("environments", 1, 1, "$", "no environments found",
                               "create environments/<name>/environment.yaml")]
    unknown = [Diagnostic(f"environments/{name}", 1, 1, "$", f"unknown environment '{name}'",
                          f"known: {', '.join(names)}") for name in asked or [] if name not in names]
    return (asked or names), unknown


def unreadable_name(name: str) -> bool:
    """Whether a file or folder name holds a control character (a line break...) or bytes that are not UTF-8."""
    return _CONTROL.search(name) is not None


def _is_yaml(name: str) -> bool:
    return name.endswith(YAML_SUFFIXES)


class _Walk:
    """The YAML files under one folder, and the problems met on the way."""

    def __init__(self, root: Path, problems: list[Diagnostic]):
        self.root = root
        self.real_root = Path(os.path.realpath(root))
        self.problems = problems

    def refuse(self, path: Path, message: str, hint: str | None = None) -> None:
        self.problems.append(Diagnostic(display_path(path, self.root), 1, 1, "$", message, hint))

    def target(self, path: Path) -> os.stat_result | None:
        """The stat of what `path` (a symbolic link, or a path through one) points to, when that is inside the
        repository; else None and a problem."""
        try:
            real = Path(os.path.realpath(path, strict=True))
        except OSError as exc:
            if not os.path.lexists(path):
                return None
            if isinstance(exc, FileNotFoundError):
                self.refuse(path, "dangling symbolic link: what it points to does not exist",
                            "remove the link or restore its target")
            else:
                self.refuse(path, f"cannot follow symbolic link: {exc.strerror or 'a link loop'}",
                            "remove the link")
            return None
        if real != self.real_root and self.real_root not in real.parents:
            self.refuse(path, "symbolic link to outside the repository: nimgen reads only files inside it",
                        "copy what it points to into the repository, or link to a path inside it")
            return None
        try:
            return os.stat(real)
        except OSError as exc:
            self.refuse(path, f"cannot read: {exc.strerror or 'error'}")
            return None

    def files(self, folder: Path, relevant: Callable[[str], bool] = lambda relpath: True) -> dict[str, Path]:
        """{path relative to `folder`: path} of every YAML file under `folder` whose relative path is relevant."""
        if not os.path.lexists(folder):
            return {}
        top = self.target(folder)    # the folder, or a folder above it, may be a link
        if top is None or not stat.S_ISDIR(top.st_mode):
            return {}
        found: dict[str, Path] = {}
        seen = {os.path.realpath(folder)}
        pending = [(folder, "")]
        while pending:
            current, prefix = pending.pop()
            try:
                with os.scandir(current) as entries:
                    names = sorted(entry.name for entry in entries)
            except OSError as exc:
                self.refuse(current, f"cannot read folder: {exc.strerror or 'error'}")
                continue
            for name in names:
                if name.startswith("."):
                    continue
                path, relpath = current / name, prefix + name
                if not relevant(relpath) and not relevant(relpath + "/"):
                    continue
                if unreadable_name(name):
                    self.refuse(path, "a file or folder name with a control character (such as a line break) or "
                                "bytes that are not UTF-8: nimgen reads no such input", "rename it")
                    continue
                info = self.target(path) if path.is_symlink() else _lstat(path)
                if info is None:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    if _is_yaml(name):
                        self.refuse(path, "a folder named like a YAML file", "rename the folder")
                        continue
                    real = os.path.realpath(path)
                    if real in seen:
                        self.refuse(path, "symbolic link to a folder that is already read", "remove the link")
                        continue
                    seen.add(real)
                    pending.append((path, relpath + "/"))
                elif not relevant(relpath):
                    continue
                elif not stat.S_ISREG(info.st_mode):
                    kind = _special_kind(info.st_mode)
                    self.refuse(path, f"{kind} where an input could be: nimgen reads only regular files",
                                "remove it")
                elif _is_yaml(name):
                    found[relpath] = path
        return found


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _special_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def _relevant(relpath: str) -> bool:
    """Whether a path relative to an environment folder is (or, ending in '/', may hold) an input."""
    parts = relpath.split("/")
    head = parts[0]
    if relpath == ENVIRONMENT_FILE or head in INPUT_DIRS:
        return True
    if head != "templates":
        return False
    return len(parts) == 1 or parts[1] in GALLERY_DIRS or (len(parts) == 2 and parts[1] == "")


def environment_layers(root: Path, env: str, problems: list[Diagnostic] | None = None,
                       inherit: bool = True) -> list[Layer]:
    """Every input of one environment, base and environment files paired by relative path (base files only when
    the environment layers on the base: `inherit`), sorted. Problems met while walking the folders (links,
    special files) are appended to `problems`."""
    walk = _Walk(root, problems if problems is not None else [])
    base = walk.files(root / "environments" / BASE, _relevant) if env != BASE and inherit else {}
    own = walk.files(root / "environments" / env, _relevant)
    return [Layer(rel, base.get(rel), own.get(rel)) for rel in sorted(base.keys() | own.keys())]


def workload_count(root: Path, envs: list[str]) -> int:
    """About how many workloads the environments hold (their own workload files, nothing read): what decides
    whether a build starts its helper processes before it reads the inputs."""
    return sum(1 for env in envs for _, _, names in os.walk(root / "environments" / env / "workloads")
               for name in names if _is_yaml(name))


def base_exists(root: Path) -> bool:
    """Whether the repository has a shared layer (environments/base/ with any input in it)."""
    folder = root / "environments" / BASE
    return (folder / ENVIRONMENT_FILE).is_file() or any((folder / sub).is_dir() for sub in (*INPUT_DIRS, "templates"))


def gallery_files(root: Path, problems: list[Diagnostic] | None = None) -> list[Path]:
    """The shared gallery: templates/compute, templates/datasources, templates/models."""
    walk = _Walk(root, problems if problems is not None else [])
    files: list[Path] = []
    for sub in sorted(GALLERY_DIRS):
        files.extend(p for _, p in sorted(walk.files(root / "templates" / sub).items()))
    return files


def expected_kind(relpath: str) -> str | None:
    """The kind a file must hold, from where it sits (None: any gallery kind of its folder)."""
    parts = relpath.split("/")
    if relpath == ENVIRONMENT_FILE:
        return "Environment"
    if parts[0] in INPUT_DIRS:
        return INPUT_DIRS[parts[0]]
    if parts[0] == "templates" and len(parts) > 1:
        return GALLERY_DIRS.get(parts[1])
    return None
