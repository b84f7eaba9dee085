"""out/<env>/README.md, from a Jinja2 template in templates/text/."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment as Jinja, FileSystemLoader, StrictUndefined, Template

from ..model import Ngc, ResolvedEnvironment

TEXT_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "text"


@lru_cache(maxsize=None)
def _template(name: str) -> Template:
    jinja = Jinja(loader=FileSystemLoader(TEXT_TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                  trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return jinja.get_template(name)


def readme(resolved: ResolvedEnvironment, files: list[str]) -> str:
    warmups = [w for w in resolved.workloads if isinstance(w.store, Ngc) and w.store.warmup is not None]
    text = _template("out-readme.md.j2").render(env=resolved.environment, projects=resolved.projects,
                                                warmups=warmups,
                                                warmup_namespaces=sorted({w.namespace for w in warmups}),
                                                warmup_timeout=max((w.store.warmup.active_deadline_seconds for w in warmups
                                                                    if isinstance(w.store, Ngc) and w.store.warmup), default=0),
                                                workloads=resolved.workloads, prerequisites=resolved.prerequisites, exposures=resolved.exposures,
                                                files=files)
    return text.rstrip("\n") + "\n"
