"""kubeconform, when it is on PATH, over rendered files with the same schemas the in-process check uses."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

from ..diagnostics import Diagnostic
from .schemas import CRD_SCHEMAS, KV_SCHEMAS, schema_version


def installed() -> bool:
    return shutil.which("kubeconform") is not None


def kubeconform(folder: Path, kubernetes_version: str, shown_root: str,
                locations: Sequence[Path] = ()) -> list[Diagnostic]:
    """Run kubeconform over a rendered tree when it is installed; [] when it is not.

    kubeconform checks each object against the first location holding its schema: the core schemas, then the
    extra locations, then the project's CRD schemas (the in-process check applies all of them)."""
    binary = shutil.which("kubeconform")
    if binary is None:
        return []
    version = schema_version(kubernetes_version)
    core = str(KV_SCHEMAS) + "/v{{ .KubernetesVersion }}-local-strict/{{ .ResourceKind }}{{ .KindSuffix }}.json"
    layout = "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"
    extras = [arg for location in locations for arg in ("-schema-location", str(Path(location).resolve()) + layout)]
    files = sorted(str(p) for p in folder.rglob("*.yaml") if p.name != "kustomization.yaml")
    result = subprocess.run([binary, "-strict", "-summary=false", "-output", "json", "-kubernetes-version", version,
                             "-schema-location", core, *extras, "-schema-location", str(CRD_SCHEMAS) + layout, *files],
                            capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return []
    try:
        resources = json.loads(result.stdout or "{}").get("resources", [])
    except json.JSONDecodeError:
        resources = [{"filename": str(folder), "msg": (result.stdout + result.stderr).strip(), "status": "statusError"}]
    problems = []
    for res in resources:
        if res.get("status") in ("statusInvalid", "statusError"):
            name = Path(res.get("filename", str(folder)))
            shown = f"{shown_root}/{name.relative_to(folder).as_posix()}" if name.is_relative_to(folder) else str(name)
            problems.append(Diagnostic(shown, 1, 1, "$", f"kubeconform: {res.get('kind', '')} {res.get('name', '')}: {res.get('msg')}"))
    if not problems:
        problems.append(Diagnostic(shown_root, 1, 1, "$", f"kubeconform failed: {(result.stderr or result.stdout).strip()}"))
    return problems


def kubeconform_texts(files: dict[str, str], kubernetes_version: str, shown_root: str) -> list[Diagnostic]:
    """kubeconform over rendered texts (relative path -> text) not yet written anywhere."""
    if not files or not installed():
        return []
    with tempfile.TemporaryDirectory(prefix="nimgen-kubeconform-") as tmp:
        for relpath, text in files.items():
            (Path(tmp) / relpath).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / relpath).write_text(text, encoding="utf-8")
        return kubeconform(Path(tmp), kubernetes_version, shown_root)
