"""Placement: the node pools a workload may land on, their priority, node type, affinity and tolerations."""

from __future__ import annotations

from typing import Any

from ..model import (DeploymentMode, KaiScheduler, MatchExpression, NodePool, Placement, PreferredTerm, Priority, Spread, Taint,
                     Toleration)
from . import kai, naming
from .compute import ComputeSpec, compute_field
from .context import WorkloadContext, suggest
from .gpus import product_matches

GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"   # set on every GPU node by GPU Feature Discovery
# Well-known node labels a spread counts replicas by (kubernetes.io/docs/reference/labels-annotations-taints).
SPREAD_KEYS = {"node": "kubernetes.io/hostname", "zone": "topology.kubernetes.io/zone"}
# A Deployment's pods carry their ReplicaSet's hash: spreading by it counts a rollout's new pods apart from the old
# ones (topologySpreadConstraints matchLabelKeys; Environment.match_label_keys says the cluster reads it).
ROLLOUT_LABEL = "pod-template-hash"


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


def resolve_priority(ctx: WorkloadContext) -> Priority | None:
    env = ctx.env
    wanted = ctx.value(("spec", "scheduling", "priority"))
    if wanted is None:
        if env.default_priority is not None:
            ctx.record("spec.scheduling.priority", env.default_priority.name, "default (scheduler.defaultPriority)")
        return env.default_priority
    found = env.priority(wanted)
    if found is None:
        known = [p.name for p in env.priorities]
        ctx.error(("spec", "scheduling", "priority"), f"unknown priority '{wanted}' in environment {env.name}",
                  suggest(wanted, known) or (f"known: {', '.join(known)}" if known else
                                             "the environment lists none: add scheduler.priorities"))
    return found


def resolve_spread(ctx: WorkloadContext, mode: DeploymentMode) -> Spread | None:
    spread = ctx.value(("spec", "scheduling", "spread"))
    if spread is None:
        return None
    if isinstance(ctx.env.scheduler, KaiScheduler):
        # KAI runs none of kube-scheduler's PodTopologySpread: its predicates are node ports, taints, node and pod
        # affinity, volumes and DRA (pkg/scheduler/k8s_internal/predicates/predicates.go), so the constraint would
        # be silently ignored
        ctx.error(("spec", "scheduling", "spread"), f"the KAI scheduler of environment {ctx.env.name} ignores "
                  "topology spread constraints", "drop spread here, or schedule this environment with the default "
                  "scheduler; KAI honours pod anti-affinity (spec.scheduling.nodeAffinity does not spread replicas)")
        return None
    keys = (ROLLOUT_LABEL,) if mode is DeploymentMode.STANDARD and ctx.env.match_label_keys else ()
    return Spread(SPREAD_KEYS[spread["across"]], spread.get("required", False),
                  ((naming.ISVC_POD_LABEL, ctx.name),), keys)


def resolve_placement(ctx: WorkloadContext, pools: list[NodePool], spec: ComputeSpec, mode: DeploymentMode) -> Placement:
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
    scheduler = env.scheduler if isinstance(env.scheduler, KaiScheduler) else None
    priority = resolve_priority(ctx)
    preemptible = bool(ctx.value(("spec", "scheduling", "preemptible"), False))
    pod_labels: tuple[tuple[str, str], ...] = ()
    if scheduler is not None:
        # KAI has no pod grouper for an InferenceService's pods: the label, not the class, says what they are
        pod_labels = ((kai.PREEMPTIBILITY_LABEL, kai.PREEMPTIBLE if preemptible else kai.NON_PREEMPTIBLE),
                      (kai.QUEUE_LABEL, ctx.project.name))
        value = kai.BUILT_IN_CLASSES.get(priority.class_name) if priority else None
        if mode is DeploymentMode.KNATIVE and preemptible and (value is None or value >= kai.PREEMPTIBLE_BELOW):
            ctx.error(("spec", "scheduling", "preemptible"), "KAI reads no preemptibility label on Knative pods: "
                      "their priority class alone decides, preemptible below 100",
                      "name a priority whose class is train or build-preemptible, or run in Standard mode")
    elif preemptible:
        ctx.error(("spec", "scheduling", "preemptible"), f"preemptible needs the KAI scheduler; environment "
                  f"{env.name} uses the default scheduler", "which preempts by priority class alone: name a lower "
                  "spec.scheduling.priority instead")
    return Placement(
        pools=names, required=tuple(required), preferred=tuple(preferred), tolerations=tuple(tolerations),
        scheduler_name=scheduler.scheduler_name if scheduler else None,
        priority_class=priority.class_name if priority else None, pod_labels=pod_labels,
        spread=resolve_spread(ctx, mode), preemptible=preemptible)
