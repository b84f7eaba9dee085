"""GPU matching: the one place that decides whether a GPU name fits a node pool's GPU.

Profile selection (a NIM gpu tag or PCI id against a pool) and compute.gpuProduct (a product name against a
pool) both ask here, so a name that matches one way matches everywhere. Names are compared as NIM's tags and
GPU Feature Discovery's product labels are written: upper case, '-', '_' and spaces alike, a leading NVIDIA
dropped, memory and form-factor tokens optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import NodePool, Profile
from ..quantities import gigabytes


@dataclass(frozen=True)
class Pool:
    name: str
    product: str  # nvidia.com/gpu.product label value, e.g. NVIDIA-H100-80GB-HBM3
    per_node: int  # GPUs per node
    memory_gb: float | None = None  # memory of one GPU in GB
    device: str | None = None  # PCI device id if the pool declares it



_SEPARATORS = re.compile(r"[-_\s]+")
# "80GB", and "144G" as in the GH200 product name "NVIDIA GH200 144G HBM3e"; spelled 144GB after normalising.
_MEMORY_TOKEN = re.compile(r"(\d+(?:\.\d+)?)GB?")
_FORM_TOKENS = (re.compile(r"HBM\d*E?"), re.compile(r"SXM\d*"), re.compile(r"PCIE"))
# Words that add nothing about which engine runs: "RTX 6000 Ada Generation" is the RTX6000_ADA of NIM's tags,
# and GPU Feature Discovery appends SHARED to the product of time-sliced GPUs (still the whole GPU type).
# A MIG suffix ("...-MIG-1g.10gb") is deliberately not here: a MIG slice must not take an optimized engine.
_FILLER_TOKENS = frozenset({"GENERATION", "SHARED"})
# NIM tags and product labels split some words differently (RTX6000 vs "RTX 6000"): up to this many tokens on
# either side may be read as one word.
_MAX_JOIN = 3


def normalise_gpu_name(name: str) -> tuple[str, ...]:
    """Tokens of a GPU product label or NIM gpu tag: upper case, '-', '_' and spaces alike, no leading NVIDIA."""
    tokens = [token for token in _SEPARATORS.split(name.strip().upper()) if token]
    if tokens and tokens[0] == "NVIDIA":
        tokens = tokens[1:]
    return tuple(_canonical_token(token) for token in tokens)


def _canonical_token(token: str) -> str:
    memory = _MEMORY_TOKEN.fullmatch(token)
    return f"{memory.group(1)}GB" if memory else token


def _is_memory(token: str) -> bool:
    return _MEMORY_TOKEN.fullmatch(token) is not None


def _is_extension(token: str) -> bool:
    """A product token that only says memory size or form factor, which a tag may leave out."""
    return _is_memory(token) or token in _FILLER_TOKENS or any(f.fullmatch(token) for f in _FORM_TOKENS)


def names_match(tag: tuple[str, ...], product: tuple[str, ...]) -> bool:
    """The tag's tokens start the product's, in order, with only memory/form tokens between or after them.

    A tag token that the product lacks is a conflict (A100_SXM4_40GB on an 80GB card; H100 vs H100_NVL is the
    other way round: NVL is not a form token, so an H100 NVL never takes a plain H100 engine).
    """
    if not tag or not product:
        return False

    def walk(t: int, p: int) -> bool:
        if t == len(tag):
            return all(_is_extension(token) for token in product[p:])
        for a in range(1, min(_MAX_JOIN, len(tag) - t) + 1):
            word = "".join(tag[t : t + a])
            for b in range(1, min(_MAX_JOIN, len(product) - p) + 1):
                if word == "".join(product[p : p + b]) and walk(t + a, p + b):
                    return True
        # Extensions may sit between tag tokens, never before the first: "Quadro RTX 6000" is not an RTX6000_ADA.
        return t > 0 and p < len(product) and _is_extension(product[p]) and walk(t, p + 1)

    return walk(0, 0)


def _same_device(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def gpu_bound(profile: Profile) -> bool:
    # A profile with only a device id is as bound to its GPU as one with a gpu tag.
    return profile.gpu is not None or profile.gpu_device is not None


def matches_by_device(pool: Pool, profile: Profile) -> bool:
    return bool(pool.device and profile.gpu_device)


def gpu_matches(pool: Pool, profile: Profile) -> bool:
    """Whether the pool's GPU is the one the profile was built for (always true for a generic profile)."""
    if not gpu_bound(profile):
        return True
    # The PCI id is what NIM itself checks; when both sides know it, names are irrelevant.
    if pool.device and profile.gpu_device:   # matches_by_device
        return _same_device(pool.device, profile.gpu_device)
    if profile.gpu is None:
        return False  # bound to a device id the pool does not declare: cannot be shown to fit
    return names_match(normalise_gpu_name(profile.gpu), normalise_gpu_name(pool.product))




def product_matches(requested: str, product: str) -> bool:
    """Whether compute.gpuProduct (e.g. `nvidia-l40s`, `H100`) names a pool's GPU product label."""
    return names_match(normalise_gpu_name(requested), normalise_gpu_name(product))


def pool_of(pool: NodePool) -> Pool:
    """A node pool's GPUs as profile selection sees them (memory in GB)."""
    return Pool(pool.name, pool.product, pool.per_node, gigabytes(pool.memory) if pool.memory else None, pool.device)
