"""out/<env>/summary.json: what a reviewer compares between two builds, per project and workload, as plain JSON.

`nimgen plan` reads the committed summary (the state before a change) and a fresh one (after it) and tells the
reviewer what changed in those terms: model and profile, GPUs, replicas, access and exposure, scaling, store.
The file is written with every build, so out/ always carries the facts its manifests were made from.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, assert_never

from ..model import ClusterLocal, ExistingClaim, Jwt, Ngc, Public, Pvc, ResolvedEnvironment, Uri, Workload
from ..quantities import plain
from .readme import gpu_text, lora_text, outbound_text, project_use, scaling_text

SUMMARY_VERSION = 1
# How widely a workload is reachable, narrowest first: a change to a later rank widens its exposure.
EXPOSURE_RANK = {"clusterLocal": 0, "users": 1, "groups": 1, "authenticated": 2, "public": 3}


def access_facts(w: Workload) -> dict[str, Any]:
    access = w.access
    match access:
        case ClusterLocal():
            return {"kind": access.kind, "subjects": [], "exposed": False}
        case Public():
            return {"kind": access.kind, "subjects": [], "exposed": True}
        case Jwt(kind=kind, claim=claim):
            return {"kind": kind, "subjects": sorted(claim.values) if claim else [], "exposed": True}
        case _:
            assert_never(access)


def store_text(w: Workload) -> str:
    store = w.store
    match store:
        case Ngc(cache=cache):
            if cache is None:
                return "ngc, no cache"
            if isinstance(cache, ExistingClaim):
                return f"ngc, cache claim {cache.name} (existing)"
            return f"ngc, cache claim {cache.name} ({cache.size}, {cache.access_mode})"
        case Pvc(claim, sub_path):
            return f"pvc {claim}" + (f" at /{sub_path}" if sub_path else "")
        case Uri(uri):
            return f"uri {uri}"
        case _:
            assert_never(store)


def own_source(w: Workload) -> str:
    """The workload's own input file: the environment's when it has one, else the base's."""
    return next((s for s in w.sources if not s.startswith("environments/base/")), w.sources[0] if w.sources else "")


def _number(value: Decimal | None) -> str | None:
    return None if value is None else plain(value)


def summary(resolved: ResolvedEnvironment) -> dict[str, Any]:
    env = resolved.environment
    products = {p.name: p.product for p in env.node_pools}
    use = project_use(resolved)
    projects = {
        p.name: {"namespace": p.namespace, "gpuQuota": _number(p.budget.quota), "gpuLimit": _number(p.budget.limit),
                 "cpu": p.cpu, "memory": p.memory, "gpusGuaranteed": plain(use[p.name][0]),
                 "gpusPeak": plain(use[p.name][1])}
        for p in resolved.projects}
    workloads = {
        f"{w.project}/{w.name}": {
            "model": f"{w.model}:{w.model_version}" if w.model else w.image, "image": w.image,
            "profile": w.profile.label,
            "gpuType": sorted({products[p] for p in w.service.placement.pools if p in products}),
            "gpusPerReplica": gpu_text(w), "budgetGpus": plain(w.compute.budget_gpus),
            "replicas": [w.scaling.min_replicas, w.scaling.max_replicas], "peakReplicas": w.peak_replicas,
            "access": access_facts(w), "scaling": scaling_text(w), "store": store_text(w),
            "lora": lora_text(w), "outbound": outbound_text(w), "startSeconds": w.start_seconds,
            "source": own_source(w)}
        for w in resolved.workloads}
    return {"version": SUMMARY_VERSION, "environment": env.name, "projects": projects, "workloads": workloads}


def summary_text(resolved: ResolvedEnvironment) -> str:
    return json.dumps(summary(resolved), indent=2, sort_keys=True) + "\n"
