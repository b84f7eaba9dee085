"""The PodDisruptionBudget of a workload that keeps several replicas up."""

from __future__ import annotations

from constructs import Construct

from ..model import DisruptionBudget
from .base import api_object, match_labels


def disruption_budget(scope: Construct, pdb: DisruptionBudget) -> None:
    api_object(scope, "policy/v1", "PodDisruptionBudget", pdb.meta,
               spec={"maxUnavailable": pdb.max_unavailable, "selector": match_labels(pdb.selector)})
