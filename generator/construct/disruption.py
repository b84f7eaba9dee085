"""The PodDisruptionBudget of a workload that keeps several replicas up."""

from __future__ import annotations

from constructs import Construct

from ..model import DisruptionBudget
from .base import api_object, match_labels
from .registry import renders


@renders(DisruptionBudget)
class DisruptionBudgetConstruct(Construct):
    def __init__(self, scope: Construct, pdb: DisruptionBudget):
        super().__init__(scope, "pdb")
        api_object(self, "policy/v1", "PodDisruptionBudget", pdb.meta,
                   spec={"maxUnavailable": pdb.max_unavailable, "selector": match_labels(pdb.selector)})
