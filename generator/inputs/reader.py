"""Read every input of the repository once, layered and validated, grouped per environment for resolve."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import WARNING, Diagnostic, display_path, errors_in
from . import sources
from .layering import merge
from .load import Document, load_file
from .secrets import scan_for_secrets, scan_path
from .validate import validate_document

GalleryDocuments = dict[str, dict[str, Document]]   # kind -> name -> document


@dataclass
class InputSet:
    """The validated documents of one environment."""

    environment: Document | None = None
    projects: list[Document] = field(default_factory=list)
    workloads: list[Document] = field(default_factory=list)
    gallery: GalleryDocuments = field(default_factory=dict)
    invalid: set[tuple[str, str]] = field(default_factory=set)   # (kind, name) of documents that failed validation
    disabled: dict[tuple[str, str], Document] = field(default_factory=dict)  # (kind, name): its `enabled: false`


class Reader:
    """Loads and validates files, each file parsed once per run however many environments share it."""

    def __init__(self, root: Path):
        self.root = root
        self.problems: list[Diagnostic] = []
        self._parsed: dict[Path, Document | None] = {}
        self.invalid: set[tuple[str, str]] = set()

    def file(self, path: Path) -> Document | None:
        if path not in self._parsed:
            shown = display_path(path, self.root)
            refused = scan_path(shown)
            doc, problems = (None, refused) if refused else load_file(path, self.root, shown)
            self.problems.extend(problems)
            if doc is not None:
                self.problems.extend(scan_for_secrets(doc))
            self._parsed[path] = doc
        return self._parsed[path]

    def layer(self, layer: sources.Layer) -> Document | None:
        parsed = [self.file(p) for p in layer.files]    # every file read, so each reports its problems
        docs = [d for d in parsed if d is not None]
        if len(docs) != len(parsed):
            return None
        return docs[0] if len(docs) == 1 else merge(docs[0], docs[1])

    def validated(self, doc: Document | None, expected_kind: str | None) -> Document | None:
        if doc is None:
            return None
        problems = validate_document(doc, expected_kind)
        self.problems.extend(problems)
        if errors_in(problems):
            # remember the name, so references to it do not also report 'unknown ...'
            name = _name_of(doc)
            if name is not None:
                self.invalid.add((expected_kind or str(doc.data.get("kind")), name))
            return None
        return doc

    def shared_gallery(self) -> GalleryDocuments:
        entries: GalleryDocuments = {kind: {} for kind in sources.GALLERY_DIRS.values()}
        for path in sources.gallery_files(self.root, self.problems):
            kind = sources.GALLERY_DIRS[path.relative_to(self.root / "templates").parts[0]]
            doc = self.validated(self.file(path), kind)
            if doc is not None:
                self._add_entry(entries[kind], doc)
        return entries

    def _add_entry(self, table: dict[str, Document], doc: Document) -> None:
        name = doc.data["metadata"]["name"]
        if name in table:
            self.problems.append(doc.diagnostic(("metadata", "name"), f"duplicate {doc.data['kind']} '{name}'",
                                                f"already defined in {table[name].file}"))
        table[name] = doc

    def _inherits(self, env: str) -> bool:
        """Whether an environment layers on environments/base/: its own environment.yaml says `spec.base: base`
        (read before layering, since it decides the layers). Without it the environment inherits nothing, and
        when a base exists the user is told how to keep layering on it."""
        path = self.root / "environments" / env / sources.ENVIRONMENT_FILE
        own = self.file(path) if path.is_file() else None
        spec = _spec_of(own)
        has_base = sources.base_exists(self.root)
        if own is None:
            return has_base                  # no environment.yaml: reported later; layer as before meanwhile
        if spec.get("base") == sources.BASE:
            if not has_base:
                self.problems.append(own.diagnostic(("spec", "base"), "environments/base/ holds no inputs to layer on",
                                                    "create environments/base/, or drop spec.base"))
            return True
        if has_base and "base" not in spec:
            self.problems.append(own.diagnostic(("spec",), f"environment {env} does not layer on environments/base/: "
                                                "it inherits none of its settings, projects or workloads",
                                                "add 'base: base' under spec to layer it on environments/base/ (what "
                                                "nimgen did before spec.base existed)", key=True, severity=WARNING))
        return False

    def environment(self, env: str, shared: GalleryDocuments) -> InputSet:
        inputs = InputSet(gallery={kind: dict(entries) for kind, entries in shared.items()}, invalid=self.invalid)
        if sources.unreadable_name(env):
            self.problems.append(Diagnostic(f"environments/{env}", 1, 1, "$", "an environment folder name with a "
                                            "control character or bytes that are not UTF-8", "rename the folder"))
            return inputs
        inherit = self._inherits(env)
        for layer in sources.environment_layers(self.root, env, self.problems, inherit):
            doc = self.layer(layer)
            if doc is None:
                continue
            if doc.data.get("enabled") is False:
                # an environment drops an input inherited from base (a disabled project takes its workloads along)
                name, kind = _name_of(doc), sources.expected_kind(layer.relpath)
                if name is not None and kind is not None:
                    inputs.disabled[(kind, name)] = doc
                continue
            expected = sources.expected_kind(layer.relpath)
            gallery: dict[str, Document] | None = None
            if expected is not None and expected in sources.GALLERY_DIRS.values():
                gallery = inputs.gallery.get(expected)
            name = _name_of(doc)
            if gallery is not None and name in gallery:
                # a gallery override: merged over the shared entry of the same name, then validated as a whole
                doc = merge(gallery[name], doc)
            doc = self.validated(doc, expected)
            if doc is None:
                continue
            kind = doc.data["kind"]
            if kind == "Environment":
                inputs.environment = doc
            elif kind == "Project":
                inputs.projects.append(doc)
            elif kind == "InferenceWorkload":
                inputs.workloads.append(doc)
            else:
                inputs.gallery[kind][doc.data["metadata"]["name"]] = doc
        folder = f"environments/{env}"
        if inputs.environment is None and not any(p.file == folder or p.file.startswith(folder + "/")
                                                  for p in self.problems):
            self.problems.append(Diagnostic(f"environments/{env}/{sources.ENVIRONMENT_FILE}", 1, 1, "$",
                                            f"environment {env} has no environment.yaml",
                                            "every folder under environments/ (except base) is an environment"))
        return inputs


def _spec_of(doc: Document | None) -> dict[str, Any]:
    spec = doc.data.get("spec") if doc is not None and isinstance(doc.data, dict) else None
    return spec if isinstance(spec, dict) else {}


def _name_of(doc: Document) -> str | None:
    meta = doc.data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return name if isinstance(name, str) else None
