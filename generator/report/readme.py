"""out/<env>/README.md, from a Jinja2 template in templates/text/."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import assert_never

from jinja2 import Environment as Jinja, FileSystemLoader, StrictUndefined, Template

from ..model import GpuFraction, GpuMemory, LoraFromClaim, LoraFromUri, MigSlice, Ngc, ResolvedEnvironment, WholeGpus, Workload
from ..quantities import plain

TEXT_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "text"


@lru_cache(maxsize=None)
def _template(name: str) -> Template:
    jinja = Jinja(loader=FileSystemLoader(TEXT_TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                  trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return jinja.get_template(name)


def gpu_text(w: Workload) -> str:
    """What one replica takes: whole GPUs, a MIG slice, or a share of a GPU."""
    request = w.compute.gpu
    match request:
        case WholeGpus(count):
            return str(count)
        case MigSlice(profile):
            return f"MIG {profile}"
        case GpuFraction(fraction):
            return f"{plain(fraction)} of a GPU"
        case GpuMemory(mib):
            return f"{mib} MiB of a GPU"
        case _:
            assert_never(request)


def ngc_text(w: Workload) -> str:
    """How the server reaches NGC: with a key, or not at all (an air gap: the cache must already hold the profile)."""
    match w.store:
        case Ngc(key=None):
            named = f"{w.profile.profile.name} " if w.profile.profile else ""
            return f"none (air-gapped): the cache claim must hold profile {named}`{w.profile.pin}`"
        case Ngc(key=key) if key is not None:
            return f"key from Secret `{key.name}`"
        case _:
            return "-"


def lora_text(w: Workload) -> str:
    lora = w.lora
    if lora is None:
        return "-"
    match lora.source:
        case LoraFromClaim(claim, sub_path):
            where = f"claim `{claim}`" + (f" at /{sub_path}" if sub_path else "")
        case LoraFromUri(uri):
            where = f"{uri} (downloaded by KServe)"
        case _:
            assert_never(lora.source)
    limits = [f"{lora.max_gpu_adapters} on the GPU" if lora.max_gpu_adapters else "",
              f"{lora.max_cpu_adapters} in memory" if lora.max_cpu_adapters else "",
              f"rescanned every {lora.refresh_seconds}s" if lora.refresh_seconds else ""]
    return f"{where} in {lora.path}" + "".join(f"; {x}" for x in limits if x)


def outbound_text(w: Workload) -> str:
    """How the server (and its warm-up) reaches NGC and object stores."""
    proxy, bundle = w.network.proxy, w.network.ca_bundle
    found = [f"proxy {proxy.https or proxy.http}"] if proxy and (proxy.https or proxy.http) else []
    if bundle:
        found.append(f"CA bundle `{bundle.config_map}`")
    return "; ".join(found) or "direct"


def project_use(resolved: ResolvedEnvironment) -> dict[str, tuple[Decimal, Decimal]]:
    """Per project, the GPUs its workloads count at minReplicas and at peak (with rollouts' extra replicas)."""
    use = {p.name: (Decimal(0), Decimal(0)) for p in resolved.projects}
    for w in resolved.workloads:
        low, high = use[w.project]
        use[w.project] = (low + w.scaling.min_replicas * w.compute.budget_gpus,
                          high + w.peak_replicas * w.compute.budget_gpus)
    return use


def mig_slices(resolved: ResolvedEnvironment) -> dict[str, str]:
    """Per project, the MIG slices of each type its workloads may hold at peak."""
    counts: dict[str, Counter[str]] = {p.name: Counter() for p in resolved.projects}
    for w in resolved.workloads:
        if isinstance(w.compute.gpu, MigSlice):
            counts[w.project][w.compute.gpu.profile] += w.peak_replicas
    return {name: ", ".join(f"{n} x {profile}" for profile, n in sorted(c.items())) for name, c in counts.items()}


def readme(resolved: ResolvedEnvironment, files: list[str]) -> str:
    warmups = [w for w in resolved.workloads if isinstance(w.store, Ngc) and w.store.warmup is not None]
    text = _template("out-readme.md.j2").render(env=resolved.environment, projects=resolved.projects,
                                                warmups=warmups,
                                                warmup_namespaces=sorted({w.namespace for w in warmups}),
                                                warmup_timeout=max((w.store.warmup.active_deadline_seconds for w in warmups
                                                                    if isinstance(w.store, Ngc) and w.store.warmup), default=0),
                                                workloads=resolved.workloads, prerequisites=resolved.prerequisites, exposures=resolved.exposures,
                                                files=files, plain=plain, gpu_text=gpu_text, ngc_text=ngc_text, lora_text=lora_text,
                                                outbound_text=outbound_text,
                                                capacity={u.pool: u for u in resolved.capacity},
                                                departments=resolved.departments,
                                                members={d.name: sorted(p.name for p in resolved.projects
                                                                        if p.department == d.name)
                                                         for d in resolved.departments},
                                                use=project_use(resolved), slices=mig_slices(resolved),
                                                shared=any(not isinstance(w.compute.gpu, WholeGpus)
                                                           for w in resolved.workloads))
    return text.rstrip("\n") + "\n"
