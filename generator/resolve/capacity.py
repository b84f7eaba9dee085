"""Capacity: whether an environment's replicas fit the nodes of its sized pools.

A replica is one pod on one node: its whole GPUs must be free on one node, a MIG slice needs its compute units
(the 'g' of 3g.40gb, of seven) on one GPU in MIG use, a share its fraction on one shared GPU. Replicas are placed
largest first, each in the first of its workload's pools (priority order) where it fits (first-fit decreasing).
That is an estimate of what a scheduler achieves, not a promise: one that places replicas as they arrive can
fragment nodes worse, and a packing this misses can exist. Workloads that may land on a pool without `nodes` (not
sized) are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable, assert_never

from ..diagnostics import WARNING, Diagnostic
from ..inputs.load import Document
from ..model import Environment, GpuFraction, GpuMemory, MigSlice, NodePool, PoolUse, WholeGpus, Workload

MIG_UNITS = 7                            # compute units of a MIG-capable GPU (A100, H100: 7g is the whole GPU)
WHOLE, MIG, SHARED = "whole", "mig", "shared"


@dataclass
class _Gpu:
    use: str | None = None               # None: free
    free: Decimal = Decimal(1)


@dataclass
class _Node:
    gpus: list[_Gpu]
    most_free: Decimal = Decimal(1)      # the most any one of its GPUs has free: a fleet's pools have hundreds of nodes


@dataclass
class _Pool:
    spec: NodePool
    nodes: list[_Node] = field(default_factory=list)

    def place(self, w: Workload) -> bool:
        request = w.compute.gpu
        match request:
            case WholeGpus(count):
                return self._fit(lambda g: g.use is None, count, WHOLE, Decimal(1))
            case MigSlice():
                return self._fit(lambda g: g.use in (None, MIG), 1, MIG, _mig_part(request))
            case GpuFraction() | GpuMemory():
                # the part of a GPU the budget counts (a memory share's pools have one GPU size)
                return self._fit(lambda g: g.use in (None, SHARED), 1, SHARED, request.of_gpu)
            case _:
                assert_never(request)

    def _fit(self, usable: Callable[[_Gpu], bool], count: int, use: str, amount: Decimal) -> bool:
        for node in self.nodes:
            if node.most_free < amount:
                continue
            fitting = [g for g in node.gpus if usable(g) and g.free >= amount]
            if len(fitting) >= count:
                for g in fitting[:count]:
                    g.use, g.free = use, g.free - amount
                node.most_free = max(g.free for g in node.gpus)
                return True
        return False

    def used(self) -> Decimal:
        return sum((Decimal(1) - g.free for n in self.nodes for g in n.gpus), Decimal(0))


def _mig_part(slice_: MigSlice) -> Decimal:
    """The part of its GPU a MIG slice takes: its compute units of seven."""
    return Decimal(slice_.compute_units) / MIG_UNITS


def _size(w: Workload) -> Decimal:
    return _mig_part(w.compute.gpu) if isinstance(w.compute.gpu, MigSlice) else w.compute.budget_gpus


def _pack(env: Environment, workloads: tuple[Workload, ...], replicas: Callable[[Workload], int]
          ) -> tuple[dict[str, _Pool], dict[str, tuple[Workload, int]]]:
    """The sized pools after placing every replica, and per workload that did not fit, (it, replicas placed)."""
    pools = {p.name: _Pool(p, [_Node([_Gpu() for _ in range(p.per_node)]) for _ in range(p.nodes)])
             for p in env.node_pools if p.nodes is not None}
    failed: dict[str, tuple[Workload, int]] = {}
    for w in sorted(workloads, key=lambda w: (-_size(w), w.project, w.name)):
        candidates = w.service.placement.pools
        if any(name not in pools for name in candidates):
            continue                     # an unsized pool may take it: nothing to check
        for placed in range(replicas(w)):
            if not any(pools[name].place(w) for name in candidates):
                failed[f"{w.project}/{w.name}"] = (w, placed)
                break
    return pools, failed


def capacity(env: Environment, workloads: tuple[Workload, ...], docs: dict[tuple[str, str], Document]
             ) -> tuple[tuple[PoolUse, ...], list[Diagnostic]]:
    """Per sized pool its use at minReplicas and at peak (maxReplicas and rollouts), and the replicas that do not fit."""
    low, low_failed = _pack(env, workloads, lambda w: w.scaling.min_replicas)
    high, high_failed = _pack(env, workloads, lambda w: w.peak_replicas)
    problems = []
    for key, (w, placed) in sorted(low_failed.items()):
        problems.append(docs[(w.project, w.name)].diagnostic(
            ("spec", "scaling", "minReplicas"),
            f"{w.name}'s replicas do not fit the nodes of node pool{_plural(w)} {_described(env, w)}: "
            f"{placed} of its {w.scaling.min_replicas} guaranteed replicas fit beside the environment's other workloads",
            "add nodes to the pool (nodePools[].nodes), give the workload more pools, or lower minReplicas here or "
            "elsewhere (larger replicas are placed first)"))
    for key, (w, placed) in sorted(high_failed.items()):
        if key in low_failed:
            continue
        problems.append(docs[(w.project, w.name)].diagnostic(
            ("spec", "scaling", "maxReplicas"),
            f"{w.name} may not reach maxReplicas: node pool{_plural(w)} {_described(env, w)} hold{'' if len(w.service.placement.pools) > 1 else 's'} "
            f"{placed} of its {w.peak_replicas} replicas at peak beside the "
            "environment's other workloads; the rest will stay pending",
            "add nodes to the pool (nodePools[].nodes), or lower maxReplicas", severity=WARNING))
    uses = tuple(PoolUse(name, pool.spec.nodes or 0, (pool.spec.nodes or 0) * pool.spec.per_node, low[name].used(),
                         pool.used()) for name, pool in high.items())
    return uses, problems


def _plural(w: Workload) -> str:
    return "s" if len(w.service.placement.pools) > 1 else ""


def _described(env: Environment, w: Workload) -> str:
    by_name = {p.name: p for p in env.node_pools}
    return ", ".join(f"{name} ({by_name[name].nodes} x {by_name[name].per_node} GPUs)" for name in w.service.placement.pools)

