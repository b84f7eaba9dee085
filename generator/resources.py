"""Where nimgen's own data is: its input schemas, CRD schemas, text templates and NIM catalog. In a source
checkout they are folders of the repository; an installed wheel carries them inside the package (nimgen/_data/,
mapped in pyproject.toml), so the same code finds them either way."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
_INSTALLED = PACKAGE / "_data"
_CHECKOUT = PACKAGE.parent


def _resource(installed: str, checkout: str) -> Path:
    inside = _INSTALLED / installed
    return inside if inside.is_dir() else _CHECKOUT / checkout


SCHEMA_DIR = _resource("schemas", "schemas")                       # input schemas (and k8s-crds/ below them)
CRD_SCHEMA_DIR = SCHEMA_DIR / "k8s-crds"                             # nimgen's schemas of the objects it renders
TEXT_TEMPLATES = _resource("text", "templates/text")                 # Jinja2 templates of out/<env>/README.md
CATALOG = _resource("models", "templates/models")                    # the NIM catalog `nimgen init` copies
STARTER = _resource("starter", "templates/starter")                  # the repository `nimgen init` writes
