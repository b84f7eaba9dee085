"""KAI scheduler Queues (cluster-scoped), one per project."""

from __future__ import annotations

from typing import Any

from constructs import Construct

from ..model import Queue, QueueResource
from .base import api_object


def resource(r: QueueResource) -> dict[str, Any]:
    return {"quota": r.quota, "limit": r.limit, "overQuotaWeight": r.over_quota_weight}


def queue(scope: Construct, value: Queue) -> None:
    api_object(scope, "scheduling.run.ai/v2", "Queue", value.meta,
               spec={"displayName": value.display_name,
                     "resources": {"gpu": resource(value.gpu), "cpu": resource(value.cpu),
                                   "memory": resource(value.memory)}})
