"""Compute: a gallery template, explicit fields over it, and the GPU count the pinned profile needs."""

from __future__ import annotations

from typing import Any, assert_never

from ..model import Compute, GpuRequest, MigSlice, Resources, WholeGpus
from ..quantities import canonical, parse
from .context import WorkloadContext, suggest

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


def resolve_compute(ctx: WorkloadContext, spec: ComputeSpec, template_failed: bool, gpus: int | None) -> Compute | None:
    values = {k: v for k, (v, _) in spec.items()}
    for field_name in ("cpu", "memory"):
        if field_name not in values and not template_failed:
            ctx.error(("spec", "compute"), f"compute needs {field_name}: set it or use a template that does",
                      "NIM needs explicit requests; KServe's webhook would otherwise inject 1 CPU / 2Gi", key=True)
    if gpus is None or "cpu" not in values or "memory" not in values:
        return None
    mig = values.get("migProfile")
    request: GpuRequest = MigSlice(mig) if mig else WholeGpus(gpus)
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
                   shared_memory=canonical(shared))


def container_resources(compute: Compute) -> Resources:
    """requests == limits: extended resources demand it, and Guaranteed QoS keeps the model from eviction."""
    amounts = (("cpu", compute.cpu), ("memory", compute.memory), (compute.gpu.resource, str(gpu_amount(compute.gpu))))
    return Resources(amounts, amounts)


def gpu_amount(request: GpuRequest) -> int:
    """How many of its resource a replica requests: its whole GPUs, or one MIG slice."""
    match request:
        case WholeGpus(count):
            return count
        case MigSlice():
            return 1
        case _:
            assert_never(request)
