"""Compute: a gallery template, explicit fields over it, and the GPU count the pinned profile needs."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any, assert_never

from ..model import (Compute, EnvVar, GpuFraction, GpuMemory, GpuRequest, KaiScheduler, Labels, MigSlice, NodePool, Resources,
                     WholeGpus)
from ..quantities import canonical, exact, parse, plain
from . import kai, nim
from .context import WorkloadContext, suggest
from .profiles import Share

ComputeSpec = dict[str, tuple[Any, str]]   # field -> (value, origin)

# Tensor-parallel ranks exchange activations through /dev/shm; one GPU needs little.
SHM_MULTI_GPU = "16Gi"
SHM_SINGLE_GPU = "2Gi"


def compute_field(spec: ComputeSpec, name: str) -> Any:
    """The merged value of one compute field, or None."""
    return spec[name][0] if name in spec else None


def compute_spec(ctx: WorkloadContext) -> tuple[ComputeSpec, bool]:
    """The merged compute fields with their origins, and whether a named template could not be used."""
    explicit = ctx.spec.get("compute", {})
    merged: ComputeSpec = {}
    template_failed = False
    template_name = explicit.get("template")
    if template_name is not None:
        ctx.value(("spec", "compute", "template"))
        template = ctx.gallery.compute.get(template_name)
        if template is None:
            template_failed = True
            if ("ComputeTemplate", template_name) not in ctx.gallery.invalid:  # else its own errors are reported
                ctx.error(("spec", "compute", "template"), f"unknown compute template '{template_name}'",
                          suggest(template_name, list(ctx.gallery.compute)))
        else:
            for key, val in template.data["spec"].items():
                file, line, _ = template.where(("spec", key))
                merged[key] = (val, f"template {template_name} ({file}:{line})")
    for key, val in explicit.items():
        if key != "template":
            merged[key] = (val, ctx.from_doc(("spec", "compute", key)))
    for key, (val, origin) in sorted(merged.items()):
        ctx.record(f"spec.compute.{key}", val, origin)
    return merged, template_failed


SHARE_FIELDS = ("gpuFraction", "gpuMemory")
MIB = Decimal(2**20)
CENT = Decimal("0.01")


def _field_path(spec: ComputeSpec, name: str) -> tuple[str, ...]:
    """Where a compute field was set: the workload's compute, or (through a template) compute.template."""
    return ("spec", "compute", name) if not spec[name][1].startswith("template ") else ("spec", "compute", "template")


def share_of(ctx: WorkloadContext, spec: ComputeSpec) -> Share | None:
    """The GPU share compute asks for (the profile checks read it), after the checks that need no profile."""
    given = [name for name in SHARE_FIELDS if name in spec]
    if not given:
        return None
    name = given[-1]
    if len(given) > 1:
        ctx.error(_field_path(spec, "gpuMemory"), "compute has both gpuFraction and gpuMemory",
                  "a GPU share is one or the other: a fraction of the GPU, or an amount of its memory")
    for other in ("gpus", "migProfile"):
        if other in spec:
            ctx.error(_field_path(spec, other), f"compute has both {name} and {other}",
                      f"{name} asks for part of one GPU; drop {other}")
    if not isinstance(ctx.env.scheduler, KaiScheduler):
        ctx.error(_field_path(spec, name), f"GPU shares are placed by the KAI scheduler, and environment "
                  f"{ctx.env.name} uses the default scheduler",
                  "set scheduler.name: kai in the environment, or ask for whole GPUs")
    if name == "gpuMemory":
        return Share(memory_gb=float(parse(compute_field(spec, "gpuMemory")) / Decimal(10**9)))
    return Share(fraction=float(compute_field(spec, "gpuFraction")))


def gpu_request(spec: ComputeSpec, gpus: int, pools: list[NodePool]) -> GpuRequest:
    """What one replica asks the scheduler for. A memory share (on pools of one GPU size) counts, in the quota, as
    the part of the GPU it takes rounded up, and its engine is told that part rounded down (never above the share)."""
    mig = compute_field(spec, "migProfile")
    if mig:
        return MigSlice(mig)
    fraction = compute_field(spec, "gpuFraction")
    if fraction is not None:
        return GpuFraction(exact(fraction))
    memory = compute_field(spec, "gpuMemory")
    if memory is not None:
        mib = int(parse(memory) / MIB)
        # one GPU size: pools without memory fail the profile checks, a mix of sizes resolve_compute
        part = mib / (parse(next(p.memory for p in pools if p.memory)) / MIB)
        return GpuMemory(mib, part.quantize(CENT, ROUND_UP), part.quantize(CENT, ROUND_DOWN))
    return WholeGpus(gpus)


def mig_gpus(slice_: MigSlice) -> Decimal:
    """KAI counts a MIG slice as its compute units in GPUs: nvidia.com/mig-3g.40gb is 3 (GetGpusQuota in
    pkg/scheduler/api/resource_info/gpu_resource_requirment.go). nimgen counts the same, so its checks agree with the
    queue; KAI's pattern misses +me slices, which it counts as 0 (docs/CLUSTER.md)."""
    return Decimal(slice_.compute_units)


def budget_gpus(request: GpuRequest) -> Decimal:
    """What one replica counts in its project's GPU budget, as KAI counts it in the queue's gpu resource."""
    match request:
        case WholeGpus(count):
            return Decimal(count)
        case MigSlice():
            return mig_gpus(request)
        case GpuFraction() | GpuMemory():
            return request.of_gpu
        case _:
            assert_never(request)


def resolve_compute(ctx: WorkloadContext, spec: ComputeSpec, template_failed: bool, gpus: int | None,
                    pools: list[NodePool]) -> Compute | None:
    values = {k: v for k, (v, _) in spec.items()}
    for field_name in ("cpu", "memory"):
        if field_name not in values and not template_failed:
            ctx.error(("spec", "compute"), f"compute needs {field_name}: set it or use a template that does",
                      "NIM needs explicit requests; KServe's webhook would otherwise inject 1 CPU / 2Gi", key=True)
    sizes = sorted({p.memory for p in pools if p.memory})
    if "gpuMemory" in values and len(sizes) > 1:
        # NIM's engine is bounded by a fraction of its GPU: one value for the pod, right for one GPU size only
        ctx.error(_field_path(spec, "gpuMemory"), "a gpuMemory share on pools whose GPUs differ in memory ("
                  + ", ".join(f"{p.name} {p.memory}" for p in pools) + ")",
                  "NIM is told its share as a fraction of the GPU's memory, which would be right on one size only: "
                  "use gpuFraction, or pools of one GPU size (scheduling.nodePools)")
    if gpus is None or "cpu" not in values or "memory" not in values or ctx.failed:
        return None
    request = gpu_request(spec, gpus, pools)
    shm_default = SHM_MULTI_GPU if gpus > 1 else SHM_SINGLE_GPU
    shared = values.get("sharedMemory")
    if shared is None:
        ctx.record("spec.compute.sharedMemory", shm_default, f"default ({SHM_MULTI_GPU} for multi-GPU, else {SHM_SINGLE_GPU})")
        shared = shm_default
    if parse(shared) >= parse(values["memory"]):
        ctx.error(("spec", "compute", "sharedMemory") if "sharedMemory" in values else ("spec", "compute"),
                  f"sharedMemory ({shared}) must be less than memory ({values['memory']})",
                  "a memory-backed /dev/shm counts against the container's memory limit")
    ctx.record("spec.compute.gpus (resolved)", gpus, "profile" if "gpus" not in values else "compute")
    return Compute(gpus=gpus, gpu=request, cpu=canonical(values["cpu"]), memory=canonical(values["memory"]),
                   shared_memory=canonical(shared), budget_gpus=budget_gpus(request))


def container_resources(compute: Compute) -> Resources:
    """requests == limits: extended resources demand it, and Guaranteed QoS keeps the model from eviction. A GPU
    share requests no device: KAI's annotation asks for it."""
    amounts: tuple[tuple[str, str], ...] = (("cpu", compute.cpu), ("memory", compute.memory))
    device = gpu_device(compute.gpu)
    if device is not None:
        amounts += (device,)
    return Resources(amounts, amounts)


def gpu_device(request: GpuRequest) -> tuple[str, str] | None:
    """The device resource a replica requests and how many: its whole GPUs, one MIG slice, or none (a share)."""
    match request:
        case WholeGpus(count):
            return request.resource or "", str(count)
        case MigSlice():
            return request.resource or "", "1"
        case GpuFraction() | GpuMemory():
            return None
        case _:
            assert_never(request)


def share_annotations(request: GpuRequest) -> Labels:
    """KAI's GPU-sharing annotations on the pod, naming the NIM container: KAI gives the share to the first
    container otherwise, which is Istio's proxy when it holds the application until it starts."""
    match request:
        case GpuFraction(fraction):
            share = (kai.GPU_FRACTION, plain(fraction))
        case GpuMemory(mib):
            share = (kai.GPU_MEMORY, str(mib))
        case WholeGpus() | MigSlice():
            return ()
        case _:
            assert_never(request)
    return ((kai.GPU_SHARE_CONTAINER, nim.CONTAINER_NAME), share)


def engine_env(request: GpuRequest, version: str | None) -> tuple[EnvVar, ...]:
    """What tells NIM's engine to stay within a GPU share (KAI does not isolate GPU memory)."""
    match request:
        case GpuFraction() | GpuMemory():
            return nim.memory_bound(version, request.engine_fraction)
        case WholeGpus() | MigSlice():
            return ()
        case _:
            assert_never(request)
