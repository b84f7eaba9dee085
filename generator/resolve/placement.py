"""Placement: the node pools a workload may land on, their priority, node type, affinity and tolerations."""

from __future__ import annotations

from typing import Any

from ..model import KaiScheduler, MatchExpression, NodePool, Placement, PreferredTerm, Taint, Toleration
from . import naming
from .compute import ComputeSpec, compute_field
from .context import WorkloadContext, suggest
from .gpus import product_matches

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"   # set on every GPU node by GPU Feature Discovery


def candidate_pools(ctx: WorkloadContext, spec: ComputeSpec) -> list[NodePool]:
    """The node pools this workload may land on, in priority order."""
    by_name = {p.name: p for p in ctx.env.node_pools}
    product = compute_field(spec, "gpuProduct")
    mig = compute_field(spec, "migProfile")
    wanted = ctx.value(("spec", "scheduling", "nodePools"))
    if wanted:
        pools = []
        for i, name in enumerate(wanted):
            if name not in by_name:
                ctx.error(("spec", "scheduling", "nodePools", i), f"unknown node pool '{name}' in environment {ctx.env.name}",
                          suggest(name, list(by_name)))
                continue
            pool = by_name[name]
            if product and not product_matches(str(product), pool.product):
                ctx.error(("spec", "scheduling", "nodePools", i),
                          f"node pool '{name}' has {pool.product}, but compute asks for gpuProduct {product}")
            if mig and mig not in pool.mig_profiles:
                ctx.error(("spec", "scheduling", "nodePools", i), f"node pool '{name}' offers no MIG slice {mig}",
                          f"declare it in the pool's gpu.migProfiles ({', '.join(pool.mig_profiles) or 'none declared'})")
            pools.append(pool)
        return pools
    pools = list(ctx.env.node_pools)
    if product:
        pools = [p for p in pools if product_matches(str(product), p.product)]
        if not pools:
            ctx.error(("spec", "compute", "gpuProduct"), f"no node pool of environment {ctx.env.name} has {product}",
                      suggest(str(product), sorted({p.product for p in ctx.env.node_pools})))
    if mig:
        pools = [p for p in pools if mig in p.mig_profiles]
        if not pools:
            ctx.error(("spec", "compute", "migProfile"), f"no node pool of environment {ctx.env.name} offers MIG slice {mig}")
    return pools


def _expression(expr: dict[str, Any]) -> MatchExpression:
    return MatchExpression(expr["key"], expr["operator"], tuple(expr.get("values", ())))


def tolerates(t: Toleration, taint: Taint) -> bool:
    if t.effect and t.effect != taint.effect:
        return False
    if t.key is None and t.operator == "Exists":
        return True
    if t.key != taint.key:
        return False
    return t.operator == "Exists" or t.value == taint.value


def resolve_placement(ctx: WorkloadContext, pools: list[NodePool], spec: ComputeSpec) -> Placement:
    env = ctx.env
    scheduling = ctx.spec.get("scheduling", {})
    names = tuple(p.name for p in pools)
    required: list[MatchExpression] = []
    preferred: list[PreferredTerm] = []
    if names:  # GPU pods go only to the environment's declared pools
        required.append(MatchExpression(env.node_pool_label, "In", tuple(sorted(names))))
    if len(names) > 1:
        # priority order as descending weights: the scheduler tries the first pool first
        for i, name in enumerate(names):
            preferred.append(PreferredTerm(max(100 - 10 * i, 1), (MatchExpression(env.node_pool_label, "In", (name,)),)))
    if compute_field(spec, "gpuProduct") and pools:
        # the label value the pools declare, not the spelling asked for: only it matches the nodes
        required.append(MatchExpression(GPU_PRODUCT_LABEL, "In", tuple(sorted({p.product for p in pools}))))
    node_type = ctx.value(("spec", "scheduling", "nodeType"))
    if node_type:
        required.append(MatchExpression(env.node_type_label, "In", (node_type,)))
    affinity = scheduling.get("nodeAffinity", {})
    required.extend(_expression(e) for e in affinity.get("required", ()))
    for term in affinity.get("preferred", ()):
        preferred.append(PreferredTerm(term["weight"], tuple(_expression(e) for e in term["matchExpressions"])))
    tolerations = [Toleration(t.get("key"), t.get("operator", "Equal"), t.get("value"), t.get("effect"),
                              t.get("tolerationSeconds")) for t in scheduling.get("tolerations", ())]
    if env.auto_tolerate_taints:
        for pool in pools:
            for taint in pool.taints:
                if not any(tolerates(t, taint) for t in tolerations):
                    tolerations.append(Toleration(taint.key, "Equal" if taint.value is not None else "Exists",
                                                  taint.value, taint.effect))
                    ctx.record("spec.scheduling.tolerations (added)", f"{taint.key}={taint.value or ''}:{taint.effect}",
                               f"taint of node pool {pool.name} (policy.autoTolerateTaints)")
    kai = env.scheduler if isinstance(env.scheduler, KaiScheduler) else None
    return Placement(
        pools=names, required=tuple(required), preferred=tuple(preferred), tolerations=tuple(tolerations),
        scheduler_name=kai.scheduler_name if kai else None, priority_class=env.scheduler.priority_class,
        pod_labels=((naming.KAI_QUEUE_LABEL, ctx.project.name),) if kai else ())
