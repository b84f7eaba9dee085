"""KAI scheduler Queues (cluster-scoped): one per department, one per project under it or alone."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from ..model import Queue, QueueResource
from ..quantities import json_number
from .base import api_object


def resource(r: QueueResource) -> dict[str, Any]:
    return {"quota": json_number(r.quota), "limit": json_number(r.limit), "overQuotaWeight": r.over_quota_weight}


def queue(scope: Construct, value: Queue) -> None:
    spec: dict[str, Any] = {"displayName": value.display_name}
    if value.parent is not None:
        spec["parentQueue"] = value.parent
    fields = (("priority", value.scheduling.priority), ("preemptMinRuntime", value.scheduling.preempt_min_runtime),
              ("reclaimMinRuntime", value.scheduling.reclaim_min_runtime))
    spec.update({k: v for k, v in fields if v is not None})
    spec["resources"] = {"gpu": resource(value.gpu), "cpu": resource(value.cpu), "memory": resource(value.memory)}
    api_object(scope, "scheduling.run.ai/v2", "Queue", value.meta, spec=spec)
