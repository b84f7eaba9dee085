"""The model reference (catalog entry or custom image) and the NIM profile pinned for it at build time."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import NodePool, Profile, ProfileDecision, Selection
from .catalog import CatalogModel
from .compute import ComputeSpec, compute_field, share_of
from .context import WorkloadContext, suggest
from .gpus import pool_of
from .images import mirrored
from .profiles import check_profile, select_profile, sort_key


@dataclass(frozen=True)
class CatalogVersion:
    """A model version of the NIM catalog, whose profiles are known."""

    model: str
    version: str
    entry: CatalogModel


@dataclass(frozen=True)
class ModelReference:
    image: str
    catalog: CatalogVersion | None = None   # None for a custom image

    @property
    def model(self) -> str | None:
        return self.catalog.model if self.catalog else None

    @property
    def version(self) -> str | None:
        return self.catalog.version if self.catalog else None


def model_reference(ctx: WorkloadContext) -> ModelReference | None:
    model = ctx.spec["model"]
    if "image" in model and ("nim" in model or "version" in model):
        # Through layering a base file may hold one and an environment the other: name both places.
        given = "nim" if "nim" in model else "version"
        file, line, _ = ctx.doc.where(("spec", "model", given))
        ctx.error(("spec", "model", "image"), f"model has both a catalog reference ({given} at {file}:{line}) and an image",
                  "use either {nim, version} (a catalog model) or {image} (a custom NIM image), not both")
        return None
    if "image" in model:
        return ModelReference(ctx.value(("spec", "model", "image")))
    name, version = ctx.value(("spec", "model", "nim")), str(ctx.value(("spec", "model", "version")))
    catalog = ctx.gallery.models.get(name)
    if catalog is None:
        ctx.error(("spec", "model", "nim"), f"unknown NIM model '{name}'", suggest(name, list(ctx.gallery.models)))
        return None
    if catalog.profiles(version) is None:
        ctx.error(("spec", "model", "version"), f"model {name} has no version '{version}' in the catalog",
                  f"catalog versions: {', '.join(catalog.version_names)}")
        return None
    # a mirror changes where the image is pulled from, not what it is: the catalog's profiles still apply
    return ModelReference(mirrored(catalog.image(version), ctx.env.images), CatalogVersion(name, version, catalog))


def pin_profile(ctx: WorkloadContext, ref: ModelReference, pools: list[NodePool],
                spec: ComputeSpec) -> tuple[ProfileDecision | None, int | None]:
    """The pinned profile and the GPU count per replica it implies (None, None after an error)."""
    requested = ctx.spec.get("profile", {"auto": {}})
    explicit_gpus = compute_field(spec, "gpus")
    mig = compute_field(spec, "migProfile")
    share = share_of(ctx, spec)
    ctx.record("spec.profile", requested, ctx.from_doc(("spec", "profile")) if "profile" in ctx.spec else "default")
    pinned = ref.catalog
    if pinned is None:
        if "auto" in requested:
            ctx.error(("spec", "profile") if "profile" in ctx.spec else ("spec", "model", "image"),
                      "a custom image needs a manual profile: nimgen cannot choose among profiles it does not know",
                      "set spec.profile.name or spec.profile.id")
            return None, None
        if share is not None:
            ctx.error(("spec", "model", "image"), "a GPU share needs a catalog model: its profile's engine decides how "
                      "NIM is told to stay within the share", "use {nim, version}, or ask for whole GPUs")
            return None, None
        if explicit_gpus is None and mig is None:
            ctx.error(("spec", "compute"), "a custom image needs an explicit GPU count (compute.gpus)",
                      "nimgen cannot derive it from a profile outside the catalog", key=True)
            return None, None
        pin = requested.get("name") or requested.get("id")
        return ProfileDecision("name" if "name" in requested else "id", pin, None,
                               request=f"manual {pin} (custom image)"), explicit_gpus or 1
    catalog = pinned.entry
    profiles = catalog.profiles(pinned.version) or ()
    gpu_pools = [pool_of(p) for p in pools]
    if not gpu_pools:
        return None, None  # no pool: reported by candidate_pools
    checks = dict(gpus=explicit_gpus, mig_profile=mig, parameters_billions=catalog.parameters_billions, share=share)
    if "auto" in requested:
        auto = requested["auto"]
        # adapters to serve (spec.lora) want a LoRA profile without being asked twice
        optimize_for, lora = auto.get("optimizeFor", "throughput"), auto.get("lora", "lora" in ctx.spec)
        selection = select_profile(profiles, gpu_pools, optimize_for=optimize_for, lora=lora, **checks)
        request = (f"auto (optimizeFor {optimize_for}, lora {str(lora).lower()}) on "
                   + ", ".join(f"{p.name} ({p.product} x{p.per_node})" for p in pools))
        if selection.chosen is None:
            reasons = "; ".join(sorted({f"{r.profile.name}: {r.reason}" for r in selection.rejected})[:6])
            ctx.error(("spec", "profile") if "profile" in ctx.spec else ("spec", "model"),
                      f"no profile of {catalog.name} {ref.version} can run here: {request}",
                      f"run 'nimgen explain {ctx.env.name} {ctx.name}' for every candidate; e.g. {reasons}")
            return None, None
        chosen = selection.chosen
        unhonoured(ctx, optimize_for, lora, chosen, selection)
        return ProfileDecision("auto", chosen.pin, chosen, request, selection), explicit_gpus or chosen.gpus
    key = "name" if "name" in requested else "id"
    wanted = requested[key]
    matches = [p for p in profiles if getattr(p, key) == wanted]
    if not matches:
        known = [getattr(p, key) for p in profiles if getattr(p, key)]
        ctx.error(("spec", "profile", key), f"model {catalog.name} {ref.version} has no profile with {key} '{wanted}'",
                  suggest(wanted, known) if key == "name" else "list the catalog's ids with 'nimgen explain'")
        return None, None
    if len(matches) > 1:
        ctx.error(("spec", "profile", key), f"profile {key} '{wanted}' is ambiguous in {catalog.name} {ref.version}",
                  "pin it by id: " + ", ".join(p.id or p.name for p in matches))
        return None, None
    chosen = matches[0]
    rejections = check_profile(chosen, gpu_pools, **checks)
    for rejection in rejections:
        where = f"on node pool '{rejection.pool}'" if rejection.pool else "here"
        ctx.error(("spec", "profile", key), f"profile {chosen.name} cannot run {where}: {rejection.reason}")
    if rejections:
        return None, None
    return ProfileDecision(key, chosen.pin, chosen, f"manual {key} {wanted}"), explicit_gpus or chosen.gpus


def unhonoured(ctx: WorkloadContext, optimize_for: str, lora: bool, chosen: Profile, selection: Selection) -> None:
    """A warning when a workload asks for an objective (profile.auto.optimizeFor), the catalog has profiles of it,
    but none runs here, so a profile tuned for the other objective was pinned: what the closest one would take, or
    that none is built for these GPUs."""
    # a generic profile (no objective) is ranked for the objective among its kind (latency: more GPUs), so only
    # a profile tuned for the other objective leaves the request unmet
    if chosen.objective in (None, optimize_for) or "optimizeFor" not in ctx.spec.get("profile", {}).get("auto", {}):
        return
    wanted = [r for r in selection.rejected if r.profile.objective == optimize_for and r.profile.lora == lora]
    if not wanted:
        return
    # a profile built for these GPUs that fails for another reason (GPUs per node, memory) says what it would take
    fitting = [r for r in wanted if not r.reason.startswith(("optimized for", "built for device"))]
    if fitting:
        closest = min(fitting, key=lambda r: sort_key(r.profile, optimize_for))
        hint = f"{closest.profile.name} would run if: {closest.reason}"
    else:
        hint = f"no {optimize_for} profile of this version is built for these pools' GPUs"
    ctx.warn(("spec", "profile", "auto", "optimizeFor"), f"optimizeFor {optimize_for} could not be honoured: no "
             f"{optimize_for} profile runs here, so {chosen.name} ({chosen.objective}) is pinned", hint)
