"""`nimgen models` and `nimgen templates`: the NIM catalog (models, versions, profiles and, for an environment, the
node pools each profile fits) and the gallery an environment sees (compute templates and data sources), as
values the use cases fill (usecases.list_models, usecases.list_templates) and as text, JSON or Markdown.

The values hold facts only; every decision they show (whether a profile fits a pool, which entry an environment
overrides) was made by resolve for the use case, the same way a build makes it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any, Sequence, Union, assert_never

from ..diagnostics import safe
from ..model import NodePool, Profile

FORMATS = ("text", "json", "markdown")


# --------------------------------------------------------------------------------------------- models


@dataclass(frozen=True)
class PoolMisfit:
    """A node pool a profile cannot run on, and the reason a build would give."""

    pool: str
    reason: str


@dataclass(frozen=True)
class PoolFit:
    """Which of an environment's node pools a profile runs on (environment order), and why not on the others."""

    fits: tuple[str, ...]
    misfits: tuple[PoolMisfit, ...]


@dataclass(frozen=True)
class ListedProfile:
    profile: Profile
    fit: PoolFit | None = None           # None: listed without an environment


@dataclass(frozen=True)
class ListedVersion:
    version: str
    image: str                           # as the environment pulls it (its mirror), else as the catalog names it
    profiles: tuple[ListedProfile, ...]  # catalog order


@dataclass(frozen=True)
class ListedModel:
    name: str
    repository: str                      # the catalog's image without a tag
    parameters_billions: float | None
    file: str                            # the catalog file (or the environment's override of it)
    versions: tuple[ListedVersion, ...]  # catalog order


@dataclass(frozen=True)
class ModelListing:
    models: tuple[ListedModel, ...]      # by name
    model: str | None = None             # the one model asked for, else None (every model)
    environment: str | None = None       # the environment whose node pools the profiles were checked against
    pools: tuple[NodePool, ...] = ()     # that environment's node pools, in its order


# --------------------------------------------------------------------------------------------- templates


class Origin(Enum):
    """Where a gallery entry an environment sees comes from."""

    GALLERY = "gallery"                  # the shared templates/ entry, as it is
    OVERRIDE = "override"                # the shared entry with an environment file merged over it
    ENVIRONMENT = "environment"          # an entry only the environment (or its base) declares


@dataclass(frozen=True)
class ListedCompute:
    name: str
    origin: Origin
    file: str                            # the file the entry comes from (for an override, the overriding file)
    overrides: str | None                # the shared file an override is merged over
    gpus: int | None
    gpu_product: str | None
    cpu: str | None
    memory: str | None
    shared_memory: str | None
    mig_profile: str | None
    gpu_fraction: float | None
    gpu_memory: str | None


@dataclass(frozen=True)
class NewClaim:
    """A data source nimgen creates a claim for."""

    size: str
    storage_class: str | None            # None: the environment's storage class decides
    access_mode: str | None              # None: decided per workload (its replicas and rollout)


@dataclass(frozen=True)
class ExistingClaim:
    """A data source that names a claim which already exists."""

    claim: str


ClaimSource = Union[NewClaim, ExistingClaim]


@dataclass(frozen=True)
class ListedDataSource:
    name: str
    origin: Origin
    file: str
    overrides: str | None
    source: ClaimSource


@dataclass(frozen=True)
class TemplateListing:
    environment: str
    compute: tuple[ListedCompute, ...]           # by name
    datasources: tuple[ListedDataSource, ...]    # by name


# --------------------------------------------------------------------------------------------- shared helpers


_UNITS = (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3))


def size_text(size: int | None) -> str:
    """A download size as the registry prints it (decimal units): 16000000000 -> 16GB, 9500000000 -> 9.5GB."""
    if size is None:
        return "-"
    for unit, factor in _UNITS:
        if size >= factor:
            return f"{round(size / factor, 1):g}{unit}"
    return f"{size}B"


def gpu_text(profile: Profile) -> str:
    """The GPU a profile is built for; "any" for a generic profile (one with only a device id shows the id)."""
    if profile.gpu is not None:
        return profile.gpu
    return f"device {profile.gpu_device}" if profile.gpu_device else "any"


def _short_id(profile: Profile) -> str:
    return profile.id[:12] if profile.id else "-"


def _opt(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Aligned columns two spaces apart; the last column is not padded."""
    shown = [[safe(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in shown) for i in range(len(shown[0]))]
    return [(indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1]).rstrip()
            if len(row) > 1 else (indent + row[0]).rstrip() for row in shown]


def _cell(text: str) -> str:
    return safe(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------------------------- render models


def _profile_json(listed: ListedProfile) -> dict[str, Any]:
    p = listed.profile
    found: dict[str, Any] = {
        "id": p.id, "name": p.name, "engine": p.engine, "precision": p.precision, "gpu": gpu_text(p),
        "gpu_device": p.gpu_device, "tp": p.tp, "pp": p.pp, "gpus": p.gpus, "lora": p.lora, "objective": p.objective,
        "download_bytes": p.download_bytes, "download_size": None if p.download_bytes is None else size_text(p.download_bytes),
    }
    if listed.fit is not None:
        found["fits"] = list(listed.fit.fits)
        found["does_not_fit"] = [{"pool": m.pool, "reason": m.reason} for m in listed.fit.misfits]
    return found


def _models_json(value: ModelListing) -> str:
    return _json({
        "environment": value.environment,
        "model": value.model,
        "pools": [{"name": p.name, "product": p.product, "per_node": p.per_node, "memory": p.memory,
                   "device": p.device, "mig_profiles": list(p.mig_profiles)} for p in value.pools],
        "models": [{"name": m.name, "repository": m.repository, "parameters_billions": m.parameters_billions,
                    "file": m.file,
                    "versions": [{"version": v.version, "image": v.image,
                                  "profiles": [_profile_json(p) for p in v.profiles]} for v in m.versions]}
                   for m in value.models],
    })


def _misfit_text(fit: PoolFit) -> str:
    return "; ".join(f"{m.pool}: {m.reason}" for m in fit.misfits)


def _profile_row(listed: ListedProfile, with_env: bool) -> list[str]:
    p = listed.profile
    row = [p.name, _short_id(p), p.engine, p.precision, gpu_text(p), str(p.tp), str(p.pp), "yes" if p.lora else "no",
           p.objective or "-", size_text(p.download_bytes)]
    if with_env and listed.fit is not None:
        row += [", ".join(listed.fit.fits) or "none", _misfit_text(listed.fit) or "-"]
    return row


PROFILE_HEADER = ["NAME", "ID", "ENGINE", "PRECISION", "GPU", "TP", "PP", "LORA", "OBJECTIVE", "DOWNLOAD"]
FIT_HEADER = ["FITS", "DOES NOT FIT"]
SUMMARY_HEADER = ["MODEL", "VERSION", "PROFILES", "GPUS"]


def _gpus_of(version: ListedVersion) -> str:
    tags = sorted({gpu_text(p.profile) for p in version.profiles} - {"any"})
    generic = any(gpu_text(p.profile) == "any" for p in version.profiles)
    return ", ".join(tags + (["any"] if generic else [])) or "-"


def _fit_counts(value: ModelListing, version: ListedVersion) -> str:
    counts = [(pool.name, sum(1 for p in version.profiles if p.fit is not None and pool.name in p.fit.fits))
              for pool in value.pools]
    return ", ".join(f"{name} {n}" for name, n in counts) or "no pool"


def _summary_rows(value: ModelListing) -> list[list[str]]:
    rows = []
    for m in value.models:
        for i, v in enumerate(m.versions):
            row = [m.name if i == 0 else "", v.version, str(len(v.profiles))]
            if value.environment is not None:
                row.append(_fit_counts(value, v))
            rows.append(row + [_gpus_of(v)])
    return rows


def _summary_header(value: ModelListing) -> list[str]:
    return SUMMARY_HEADER[:3] + (["FIT PER POOL"] if value.environment is not None else []) + SUMMARY_HEADER[3:]


def _pools_line(value: ModelListing) -> str:
    pools = ", ".join(f"{p.name} ({p.product} x{p.per_node}{', ' + p.memory if p.memory else ''})" for p in value.pools)
    return f"environment {value.environment}: node pools {pools or 'none'}"


def _models_text(value: ModelListing) -> str:
    with_env = value.environment is not None
    lines = [_pools_line(value)] if with_env else []
    if value.model is None:
        if not value.models:
            return "\n".join(lines + ["the catalog has no models"]) + "\n"
        lines += _table([_summary_header(value)] + _summary_rows(value))
        lines.append("(nimgen models MODEL lists a model's profiles)")
        return "\n".join(lines) + "\n"
    for m in value.models:
        size = f", {m.parameters_billions:g}B parameters" if m.parameters_billions is not None else ""
        lines.append(f"{m.name} ({m.repository}{size}; {m.file})")
        for v in m.versions:
            lines.append(f"  version {v.version}: {len(v.profiles)} profiles, image {v.image}")
            header = PROFILE_HEADER + (FIT_HEADER if with_env else [])
            lines += _table([header] + [_profile_row(p, with_env) for p in v.profiles], indent="    ")
    return "\n".join(lines) + "\n"


def _models_markdown(value: ModelListing) -> str:
    with_env = value.environment is not None
    lines: list[str] = []
    if with_env:
        lines += [f"# NIM models on environment {value.environment}", ""]
        lines += _markdown_table(["pool", "GPU product", "GPUs per node", "GPU memory"],
                                 [[p.name, p.product, str(p.per_node), p.memory or "-"] for p in value.pools])
    else:
        lines.append("# NIM models")
    if value.model is None:
        lines.append("")
        lines += _markdown_table([h.lower() for h in _summary_header(value)], _summary_rows(value))
        return "\n".join(lines) + "\n"
    for m in value.models:
        size = f", {m.parameters_billions:g}B parameters" if m.parameters_billions is not None else ""
        lines += ["", f"## {_cell(m.name)}", "", f"`{_cell(m.repository)}`{size}, from `{_cell(m.file)}`"]
        for v in m.versions:
            lines += ["", f"### {_cell(v.version)}", "", f"{len(v.profiles)} profiles, image `{_cell(v.image)}`", ""]
            header = [h.lower() for h in PROFILE_HEADER + (FIT_HEADER if with_env else [])]
            lines += _markdown_table(header, [_profile_row(p, with_env) for p in v.profiles])
    return "\n".join(lines) + "\n"


def render_models(value: ModelListing, fmt: str) -> str:
    """The catalog listing in `fmt` (text, json or markdown). Without a model asked for, text and Markdown
    summarise each model version (profile count, GPUs, with an environment how many profiles fit each pool);
    with one, they list every profile. JSON always holds everything, keys sorted."""
    _check_format(fmt)
    if fmt == "json":
        return _models_json(value)
    if fmt == "markdown":
        return _models_markdown(value)
    return _models_text(value)


# --------------------------------------------------------------------------------------------- render templates


def share_text(c: ListedCompute) -> str:
    if c.mig_profile is not None:
        return f"MIG {c.mig_profile}"
    if c.gpu_fraction is not None:
        return f"{c.gpu_fraction:g} of a GPU"
    if c.gpu_memory is not None:
        return f"{c.gpu_memory} of a GPU"
    return "-"


def _origin_text(origin: Origin, file: str, overrides: str | None) -> list[str]:
    shown = f"{file} (over {overrides})" if overrides else file
    return [origin.value, shown]


def _compute_row(c: ListedCompute) -> list[str]:
    return [c.name, _opt(c.gpus), _opt(c.gpu_product), _opt(c.cpu), _opt(c.memory), _opt(c.shared_memory),
            share_text(c)] + _origin_text(c.origin, c.file, c.overrides)


def _source_cells(source: ClaimSource) -> list[str]:
    match source:
        case NewClaim(size, storage_class, access_mode):
            return ["new claim", size, storage_class or "-", access_mode or "-"]
        case ExistingClaim(claim):
            return [f"claim {claim}", "-", "-", "-"]
        case _:
            assert_never(source)


def _source_json(source: ClaimSource) -> dict[str, Any]:
    match source:
        case NewClaim(size, storage_class, access_mode):
            return {"pvc": {"size": size, "storage_class": storage_class, "access_mode": access_mode},
                    "existing_claim": None}
        case ExistingClaim(claim):
            return {"pvc": None, "existing_claim": claim}
        case _:
            assert_never(source)


def _datasource_row(d: ListedDataSource) -> list[str]:
    return [d.name] + _source_cells(d.source) + _origin_text(d.origin, d.file, d.overrides)


COMPUTE_HEADER = ["NAME", "GPUS", "PRODUCT", "CPU", "MEMORY", "SHM", "MIG/SHARE", "ORIGIN", "FILE"]
DATASOURCE_HEADER = ["NAME", "SOURCE", "SIZE", "CLASS", "ACCESS MODE", "ORIGIN", "FILE"]


def _templates_json(value: TemplateListing) -> str:
    return _json({
        "environment": value.environment,
        "compute": [{"name": c.name, "origin": c.origin.value, "file": c.file, "overrides": c.overrides,
                     "gpus": c.gpus, "gpu_product": c.gpu_product, "cpu": c.cpu, "memory": c.memory,
                     "shared_memory": c.shared_memory, "mig_profile": c.mig_profile, "gpu_fraction": c.gpu_fraction,
                     "gpu_memory": c.gpu_memory} for c in value.compute],
        "datasources": [{"name": d.name, "origin": d.origin.value, "file": d.file, "overrides": d.overrides,
                         **_source_json(d.source)} for d in value.datasources],
    })


def _templates_text(value: TemplateListing) -> str:
    lines = [f"environment {value.environment}: {len(value.compute)} compute templates, "
             f"{len(value.datasources)} data sources", "", "compute templates:"]
    lines += _table([COMPUTE_HEADER] + [_compute_row(c) for c in value.compute], indent="  ") \
        if value.compute else ["  none"]
    lines += ["", "data sources:"]
    lines += _table([DATASOURCE_HEADER] + [_datasource_row(d) for d in value.datasources], indent="  ") \
        if value.datasources else ["  none"]
    return "\n".join(lines) + "\n"


def _templates_markdown(value: TemplateListing) -> str:
    lines = [f"# Gallery of environment {value.environment}", "", "## Compute templates", ""]
    lines += _markdown_table([h.lower() for h in COMPUTE_HEADER], [_compute_row(c) for c in value.compute]) \
        if value.compute else ["none"]
    lines += ["", "## Data sources", ""]
    lines += _markdown_table([h.lower() for h in DATASOURCE_HEADER], [_datasource_row(d) for d in value.datasources]) \
        if value.datasources else ["none"]
    return "\n".join(lines) + "\n"


def render_templates(value: TemplateListing, fmt: str) -> str:
    """The compute templates and data sources an environment sees, in `fmt` (text, json or markdown)."""
    _check_format(fmt)
    if fmt == "json":
        return _templates_json(value)
    if fmt == "markdown":
        return _templates_markdown(value)
    return _templates_text(value)
