"""Where the inputs live: the environments, their layered files, and the shared gallery in templates/.

environments/base/ is optional and shared by every environment: a file there and the environment's file with
the same relative path are two layers of one input. Only the known folders are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BASE = "base"
ENVIRONMENT_FILE = "environment.yaml"
INPUT_DIRS = {"projects": "Project", "workloads": "InferenceWorkload"}
GALLERY_DIRS = {"compute": "ComputeTemplate", "datasources": "DataSource", "models": "NimModel"}
YAML_SUFFIXES = (".yaml", ".yml")


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


def _yaml_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in folder.rglob("*")
            if p.suffix in YAML_SUFFIXES and p.is_file()}


def _relevant(relpath: str) -> bool:
    head = relpath.split("/", 1)[0]
    if relpath == ENVIRONMENT_FILE or head in INPUT_DIRS:
        return True
    return head == "templates" and relpath.split("/")[1:2] and relpath.split("/")[1] in GALLERY_DIRS


def environment_layers(root: Path, env: str) -> list[Layer]:
    """Every input of one environment, base and environment files paired by relative path, sorted."""
    base = {k: v for k, v in _yaml_files(root / "environments" / BASE).items() if _relevant(k)}
    own = {k: v for k, v in _yaml_files(root / "environments" / env).items() if _relevant(k)}
    return [Layer(rel, base.get(rel), own.get(rel)) for rel in sorted(base.keys() | own.keys())]


def gallery_files(root: Path) -> list[Path]:
    """The shared gallery: templates/compute, templates/datasources, templates/models."""
    files: list[Path] = []
    for sub in sorted(GALLERY_DIRS):
        files.extend(p for _, p in sorted(_yaml_files(root / "templates" / sub).items()))
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
