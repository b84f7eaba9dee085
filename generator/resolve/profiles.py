"""NIM profile selection (GPU matching itself is in gpus.py).

A NIM image carries many profiles (engine, precision, tensor/pipeline parallelism, target GPU). nimgen pins one at
build time, so the choice must be one NIM itself would accept on every node pool the workload may land on, and it
must be explainable. This module is pure: the caller builds the dataclasses (memory already converted to GB) and
gets values back; nothing here reads files or raises for user errors.

Selection follows NIM's documented order: keep what can run, prefer optimized TensorRT-LLM engines, then lower
precision, then the wanted objective, then the GPU count that suits it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from ..model import Profile, Rejection, Selection
from .gpus import Pool, gpu_bound as _gpu_bound, gpu_matches, matches_by_device as _matches_by_device
from .gpus import names_match as _names_match, normalise_gpu_name
from .nim import ENGINE_MEMORY_BOUND


@dataclass(frozen=True)
class Share:
    """Part of one GPU that a KAI share pod may use: a fraction of the pool's GPU, or GPU memory in GB."""

    fraction: float | None = None
    memory_gb: float | None = None

# Lower precision first: NIM prefers the smaller, faster engine when several can run.
PRECISION_ORDER = ("nvfp4", "mxfp4", "int4_awq", "int8", "fp8", "bf16", "fp16", "fp32")
BYTES_PER_PARAM = {
    "nvfp4": 0.5,
    "mxfp4": 0.5,
    "int4_awq": 0.5,
    "int8": 1,
    "fp8": 1,
    "bf16": 2,
    "fp16": 2,
    "fp32": 4,
}
ENGINE_ORDER = ("tensorrt_llm", "vllm", "sglang")
OBJECTIVES = ("throughput", "latency")

# Weights may fill at most this share of a GPU; the rest is KV cache, activations and the CUDA context.
WEIGHT_SHARE = 0.9


def _gpu_label(profile: Profile) -> str:
    if profile.gpu and profile.gpu_device:
        return f"{profile.gpu} (device {profile.gpu_device})"
    return profile.gpu or f"device {profile.gpu_device}"


def _gpu_mismatch(profile: Profile, pool: Pool) -> str | None:
    if gpu_matches(pool, profile):
        return None
    if _matches_by_device(pool, profile):
        return f"optimized for {_gpu_label(profile)}, pool '{pool.name}' has device {pool.device}"
    if profile.gpu is None:
        return f"built for device {profile.gpu_device}, pool '{pool.name}' declares no device id"
    return f"optimized for {profile.gpu}, pool '{pool.name}' has {pool.product}"


# --- what one profile needs ------------------------------------------------------------------------------------

_MIG_MEMORY = re.compile(r"(\d+(?:\.\d+)?)gb", re.IGNORECASE)


def _mig_memory_gb(mig_profile: str) -> float:
    found = _MIG_MEMORY.search(mig_profile)
    if not found:
        # Schemas reject such values; reaching here is a caller bug, and guessing would hide a wrong pin.
        raise ValueError(f"cannot read the memory of MIG profile {mig_profile!r} (expected e.g. '1g.10gb')")
    return float(found.group(1))


def _count(n: int) -> str:
    return f"{n} GPU" if n == 1 else f"{n} GPUs"


def _gb(value: float) -> str:
    rounded = round(value, 1)
    return f"{rounded:g}" if rounded != int(rounded) else str(int(rounded))


def _layout(profile: Profile) -> str:
    return f"tp{profile.tp}" if profile.pp == 1 else f"tp{profile.tp}pp{profile.pp}"


def _memory_problem(profile: Profile, memory_gb: float, where: str, parameters_billions: float | None) -> str | None:
    """`where` describes the memory, e.g. "pool 'h100' GPUs have 80 GB" or "MIG slice 1g.10gb has 10 GB"."""
    if profile.min_vram_gb is not None and profile.min_vram_gb > memory_gb:
        return f"needs {_gb(profile.min_vram_gb)} GB per GPU, {where}"
    bytes_per_param = BYTES_PER_PARAM.get(profile.precision.lower())
    if parameters_billions is not None and bytes_per_param is not None:
        # Billions of parameters x bytes each = GB, split evenly over the profile's GPUs.
        per_gpu = parameters_billions * bytes_per_param / profile.gpus
        usable = WEIGHT_SHARE * memory_gb
        if per_gpu > usable:
            return (
                f"weights need ~{_gb(per_gpu)} GB per GPU at {profile.precision}/{_layout(profile)}, "
                f"{where} ({_gb(usable)} GB usable for weights)"
            )
    return None


def _general_problem(
    profile: Profile, *, gpus: int | None, mig_profile: str | None, parameters_billions: float | None,
    share: Share | None = None,
) -> str | None:
    """A reason that holds whatever the pool (the compute request, the MIG slice or the GPU share), or None."""
    if gpus is not None and profile.gpus != gpus:
        return f"needs {_count(profile.gpus)}, compute asks for {gpus}"
    if share is not None:
        if profile.gpus != 1:
            return f"needs {_count(profile.gpus)}, a GPU share is part of one GPU"
        if profile.engine not in ENGINE_MEMORY_BOUND:
            # KAI does not isolate GPU memory: an engine that takes most of it would starve the GPU's other pods
            return (f"engine {profile.engine} has no NIM setting that bounds its GPU memory, which a GPU share needs "
                    f"({', '.join(sorted(ENGINE_MEMORY_BOUND))} profiles have one)")
        if share.memory_gb is not None:
            return _memory_problem(profile, share.memory_gb, f"the GPU memory share is {_gb(share.memory_gb)} GB",
                                   parameters_billions)
    if mig_profile:
        # Optimized engines are built for a whole GPU of their type; a slice has a different SM count and memory.
        if _gpu_bound(profile):
            return f"optimized for {_gpu_label(profile)}; MIG slices run only generic profiles"
        if profile.gpus != 1:
            return f"needs {_count(profile.gpus)}, a MIG slice ({mig_profile}) is a single device"
        memory = _mig_memory_gb(mig_profile)
        return _memory_problem(profile, memory, f"MIG slice {mig_profile} has {_gb(memory)} GB", parameters_billions)
    return None


# Low-precision formats need tensor-core support: FP8 arrived with Ada and Hopper, FP4 with Blackwell. Optimized
# profiles are built per GPU and already carry this; a generic profile is checked against the pool's GPU family.
# A product not listed here is not judged (nimgen cannot know it).
_FP8_FAMILIES = frozenset({"H100", "H200", "GH200", "H800", "H20", "L40S", "L40", "L4", "ADA"})
_FP4_FAMILIES = frozenset({"B100", "B200", "B300", "GB200", "GB300", "BLACKWELL"})
_OLDER_FAMILIES = frozenset({"A100", "A800", "A10", "A10G", "A30", "A40", "A16", "A2", "T4", "V100"})


def _family_support(product: str) -> set[str] | None:
    """Low precisions the pool's GPU can run natively, or None when nimgen does not know the product."""
    tokens = set(normalise_gpu_name(product))
    if tokens & _FP4_FAMILIES:
        return {"fp8", "nvfp4", "mxfp4"}
    if tokens & _FP8_FAMILIES:
        return {"fp8"}
    if tokens & _OLDER_FAMILIES:
        return set()
    return None


def _precision_problem(profile: Profile, pool: Pool) -> str | None:
    if profile.optimized or profile.precision not in ("fp8", "nvfp4", "mxfp4"):
        return None
    support = _family_support(pool.product)
    if support is None or profile.precision in support:
        return None
    needs = "an Ada, Hopper or Blackwell GPU" if profile.precision == "fp8" else "a Blackwell GPU"
    return f"{profile.precision} needs {needs}, pool '{pool.name}' has {pool.product}"


def _pool_problem(
    profile: Profile, pool: Pool, *, mig_profile: str | None, parameters_billions: float | None,
    share: Share | None = None,
) -> str | None:
    """A reason this pool in particular cannot run the profile, or None."""
    mismatch = _gpu_mismatch(profile, pool) or _precision_problem(profile, pool)
    if mismatch:
        return mismatch
    if mig_profile:
        return None  # count and memory are the slice's, checked in _general_problem
    if share is not None:
        return _share_problem(profile, pool, share, parameters_billions)
    # nimgen serves a replica from one node: tensor and pipeline parallel ranks must share it.
    if profile.gpus > pool.per_node:
        return f"needs {_count(profile.gpus)} per replica, pool '{pool.name}' has {pool.per_node} per node"
    if pool.memory_gb is not None:
        where = f"pool '{pool.name}' GPUs have {_gb(pool.memory_gb)} GB"
        return _memory_problem(profile, pool.memory_gb, where, parameters_billions)
    return None


def _share_problem(profile: Profile, pool: Pool, share: Share, parameters_billions: float | None) -> str | None:
    if pool.memory_gb is None:
        return f"pool '{pool.name}' declares no gpu.memory: nimgen cannot size a GPU share there"
    if share.memory_gb is not None:
        if share.memory_gb > pool.memory_gb:
            return f"the GPU memory share of {_gb(share.memory_gb)} GB is more than pool '{pool.name}' GPUs have ({_gb(pool.memory_gb)} GB)"
        return None  # the profile against the share: checked in _general_problem
    fraction = share.fraction or 0.0
    memory = fraction * pool.memory_gb
    where = f"{fraction:g} of pool '{pool.name}' GPUs ({_gb(pool.memory_gb)} GB) is {_gb(memory)} GB"
    return _memory_problem(profile, memory, where, parameters_billions)


def incompatibility(
    profile: Profile,
    pool: Pool,
    *,
    gpus: int | None = None,
    mig_profile: str | None = None,
    parameters_billions: float | None = None,
    share: Share | None = None,
) -> str | None:
    """None when the profile can run on the pool, else the (first) reason it cannot."""
    return _general_problem(
        profile, gpus=gpus, mig_profile=mig_profile, parameters_billions=parameters_billions, share=share
    ) or _pool_problem(profile, pool, mig_profile=mig_profile, parameters_billions=parameters_billions, share=share)


def check_profile(
    profile: Profile,
    pools: Sequence[Pool],
    *,
    gpus: int | None = None,
    mig_profile: str | None = None,
    parameters_billions: float | None = None,
    share: Share | None = None,
) -> list[Rejection]:
    """For a manually pinned profile: why it cannot run, one Rejection per failing pool ([] = fine).

    A reason that does not depend on the pool (GPU count asked by compute, MIG) comes first, with pool None.
    It sees one profile only, so unlike select_profile it cannot tell that a bare tag (A100) is shadowed by a more
    specific one of the same release (A100_SXM4_40GB) on a pool that matches both by name.
    Raises ValueError without pools: "fine on no pool" would be a meaningless answer.
    """
    if not pools:
        raise ValueError("check_profile needs at least one pool")
    found: list[Rejection] = []
    general = _general_problem(profile, gpus=gpus, mig_profile=mig_profile, parameters_billions=parameters_billions,
                               share=share)
    if general:
        found.append(Rejection(profile, None, general))
    for pool in pools:
        reason = _pool_problem(profile, pool, mig_profile=mig_profile, parameters_billions=parameters_billions,
                               share=share)
        if reason:
            found.append(Rejection(profile, pool.name, reason))
    return found


# --- ranking and selection -------------------------------------------------------------------------------------


def _check_objective(optimize_for: str) -> None:
    if optimize_for not in OBJECTIVES:
        raise ValueError(f"optimize_for must be one of {', '.join(OBJECTIVES)}, not {optimize_for!r}")


def _rank_in(order: tuple[str, ...], value: str) -> int:
    # Unknown values (a precision or engine newer than this table) rank after all known ones, never first.
    value = value.lower()
    return order.index(value) if value in order else len(order)


Identity = tuple[str, str, str, str, str, str, int, int, str, bool, float]
SortKey = tuple[int, int, int, int, int, str, str, str, str, str, str, int, int, str, bool, float]


def _identity(profile: Profile) -> Identity:
    # Total order on every field, so two profiles differing only in a tag never depend on input order.
    return (
        profile.name,
        profile.id or "",
        profile.gpu or "",
        profile.gpu_device or "",
        profile.engine,
        profile.precision,
        profile.tp,
        profile.pp,
        profile.objective or "",
        profile.lora,
        -1.0 if profile.min_vram_gb is None else profile.min_vram_gb,
    )


def sort_key(profile: Profile, optimize_for: str) -> SortKey:
    """The ranking key (smaller is better): NIM's order, then name and id so the result never depends on input order.

    1. optimized (built for a GPU type) before generic; 2. lower precision; 3. objective equal to optimize_for,
    then none, then the other; 4. fewest GPUs for throughput, most for latency; 5. engine (tensorrt_llm, vllm, sglang).
    """
    _check_objective(optimize_for)
    objective = (profile.objective or "").lower()
    objective_rank = 0 if objective == optimize_for else 1 if not objective else 2
    size = profile.gpus if optimize_for == "throughput" else -profile.gpus
    return (
        0 if profile.optimized else 1,
        _rank_in(PRECISION_ORDER, profile.precision),
        objective_rank,
        size,
        _rank_in(ENGINE_ORDER, profile.engine),
    ) + _identity(profile)


def _shadowed_by(profile: Profile, pool: Pool, gpu_tags: tuple[str, ...]) -> str | None:
    """The more specific tag of the same release that matches this pool better than the profile's own tag.

    NIM tags the default variant of a GPU bare (A100 = 20b2:10de, the SXM4 80GB) and other variants with a suffix
    (A100_SXM4_40GB = 20b0:10de). By name both match an NVIDIA-A100-SXM4-40GB pool, but NIM checks the device id
    and would refuse the bare A100 engine there. Only name matches are second-guessed; a device match is exact.
    """
    if profile.gpu is None or _matches_by_device(pool, profile):
        return None
    own = normalise_gpu_name(profile.gpu)
    product = normalise_gpu_name(pool.product)
    for tag in gpu_tags:
        tokens = normalise_gpu_name(tag)
        if len(tokens) > len(own) and tokens[: len(own)] == own and _names_match(tokens, product):
            return tag
    return None


def select_profile(
    profiles: Sequence[Profile],
    pools: Sequence[Pool],
    *,
    optimize_for: str = "throughput",
    lora: bool = False,
    gpus: int | None = None,
    mig_profile: str | None = None,
    parameters_billions: float | None = None,
    share: Share | None = None,
) -> Selection:
    """Pick the profile NIM would pick, restricted to what runs on every pool; explain every other profile.

    Raises ValueError when no pool is given or optimize_for is unknown (caller bugs, not user errors).
    """
    if not pools:
        raise ValueError("select_profile needs at least one pool")
    _check_objective(optimize_for)

    # Twins from merged catalogs are one candidate; walking in (name, id, ...) order makes the rejections come out
    # sorted and nothing depend on input order.
    unique = sorted(set(profiles), key=_identity)
    # Sorted so the tag found for a shadowed profile does not depend on input order.
    gpu_tags = tuple(sorted({p.gpu for p in unique if p.gpu is not None}))

    notes: list[str] = []
    products: dict[tuple[str, ...], str] = {}
    for pool in pools:
        products.setdefault(normalise_gpu_name(pool.product), pool.product)
    if len(products) > 1:
        notes.append(
            f"pools have mixed GPU types ({', '.join(products.values())}): only profiles common to all are kept"
        )

    ranked: list[Profile] = []
    rejected: list[Rejection] = []
    for profile in unique:
        rejection = _first_rejection(
            profile,
            pools,
            gpu_tags,
            lora=lora,
            gpus=gpus,
            mig_profile=mig_profile,
            parameters_billions=parameters_billions,
            share=share,
        )
        if rejection:
            rejected.append(rejection)
        else:
            ranked.append(profile)

    ranked.sort(key=lambda p: sort_key(p, optimize_for))
    chosen = ranked[0] if ranked else None

    pool_names = ", ".join(f"'{pool.name}'" for pool in pools)
    if chosen is None:
        notes.append(f"no profile can run on every pool ({pool_names}): each rejection says why")
    elif not chosen.optimized and any(p.optimized and p.lora == lora for p in unique):
        notes.append(f"no optimized profile runs on every pool ({pool_names}): using a generic profile")
    return Selection(chosen=chosen, ranked=tuple(ranked), rejected=tuple(rejected), notes=tuple(notes))


def _first_rejection(
    profile: Profile,
    pools: Sequence[Pool],
    gpu_tags: tuple[str, ...],
    *,
    lora: bool,
    gpus: int | None,
    mig_profile: str | None,
    parameters_billions: float | None,
    share: Share | None,
) -> Rejection | None:
    # LoRA first: a profile of the wrong kind is not wanted, whatever it could run on.
    if profile.lora and not lora:
        return Rejection(profile, None, "LoRA profile, LoRA not requested")
    if lora and not profile.lora:
        return Rejection(profile, None, "not a LoRA profile")
    general = _general_problem(profile, gpus=gpus, mig_profile=mig_profile, parameters_billions=parameters_billions,
                               share=share)
    if general:
        return Rejection(profile, None, general)
    # Pools in the given (priority) order: the first one that rules the profile out is named.
    for pool in pools:
        reason = _pool_problem(profile, pool, mig_profile=mig_profile, parameters_billions=parameters_billions,
                               share=share)
        if reason is None:
            better = _shadowed_by(profile, pool, gpu_tags)
            if better:
                reason = (
                    f"optimized for {profile.gpu}, pool '{pool.name}' has {pool.product}, "
                    f"for which the {better} profiles are built"
                )
        if reason:
            return Rejection(profile, pool.name, reason)
    return None
