"""NIM profiles as the catalog lists them, and the pinned profile decision of a workload."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    name: str
    engine: str  # tensorrt_llm | vllm | sglang
    precision: str
    tp: int
    pp: int
    lora: bool
    id: str | None = None
    gpu: str | None = None  # None = generic (GPU-agnostic) profile
    gpu_device: str | None = None  # PCI id "2330:10de"
    objective: str | None = None  # latency | throughput | None
    min_vram_gb: float | None = None
    download_bytes: int | None = None  # what NIM downloads for it (the registry's download size)

    @property
    def gpus(self) -> int:
        return self.tp * self.pp

    @property
    def optimized(self) -> bool:
        return self.gpu is not None

    @property
    def pin(self) -> str:
        # What NIM_MODEL_PROFILE gets: the id when known (exact), else the readable name NIM also accepts.
        return self.id if self.id else self.name


@dataclass(frozen=True)
class Rejection:
    profile: Profile
    pool: str | None  # the pool that rules it out, or None when the reason is not pool-specific
    reason: str


@dataclass(frozen=True)
class Selection:
    chosen: Profile | None
    ranked: tuple[Profile, ...]  # all compatible candidates, best first (chosen == ranked[0])
    rejected: tuple[Rejection, ...]  # every other profile with why (sorted by profile name, id)
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ProfileDecision:
    mode: str                            # auto | name | id: how the profile was asked for (display)
    pin: str                             # NIM_MODEL_PROFILE
    profile: Profile | None              # None only for custom images
    request: str = ""                    # human summary of what was asked
    # auto only: every candidate and why; explain-only, so not part of what decides the output
    selection: Selection | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        return f"{self.profile.name if self.profile else self.pin} ({self.mode})"
