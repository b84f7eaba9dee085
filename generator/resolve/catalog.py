"""The NIM model catalog (templates/models): models, their image, and per version the profiles NIM ships."""

from __future__ import annotations

from typing import Any

from dataclasses import dataclass

from ..inputs.load import Document
from ..model import Profile


@dataclass(frozen=True)
class CatalogModel:
    name: str
    repository: str                          # the image without a tag
    parameters_billions: float | None
    versions: tuple[tuple[str, tuple[Profile, ...]], ...]
    digests: tuple[tuple[str, str], ...]     # version -> the image digest the catalog pins it to
    source: Document

    def image(self, version: str) -> str:
        """The image reference of a version: by tag, and by digest too where the catalog knows it."""
        digest = dict(self.digests).get(version)
        return f"{self.repository}:{version}" + (f"@{digest}" if digest else "")

    def profiles(self, version: str) -> tuple[Profile, ...] | None:
        return dict(self.versions).get(version)

    @property
    def version_names(self) -> list[str]:
        return [v for v, _ in self.versions]


def _profile(entry: dict[str, Any]) -> Profile:
    return Profile(
        name=entry["name"], engine=entry["engine"], precision=entry["precision"], tp=entry["tp"], pp=entry["pp"],
        lora=entry["lora"], id=entry.get("id"), gpu=entry.get("gpu"), gpu_device=entry.get("gpuDevice"),
        objective=entry.get("objective"), min_vram_gb=entry.get("minVramGB"),
        download_bytes=size_in_bytes(entry["downloadSize"]) if "downloadSize" in entry else None,
    )


_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}   # the registry prints decimal units


def size_in_bytes(size: str) -> int:
    """A download size as the registry prints it ("140GB", "9.5GB") in bytes."""
    return round(float(size[:-2]) * _UNITS[size[-2:]])


def catalog_model(doc: Document) -> CatalogModel:
    spec = doc.data["spec"]
    versions = tuple((str(v["version"]), tuple(_profile(p) for p in v["profiles"])) for v in spec["versions"])
    digests = tuple((str(v["version"]), v["digest"]) for v in spec["versions"] if "digest" in v)
    return CatalogModel(doc.data["metadata"]["name"], spec["image"], spec.get("parametersBillions"), versions, digests, doc)
