"""KAI scheduler Queues (cluster-scoped), one per project."""

from __future__ import annotations

from constructs import Construct

from ..model import Queue, QueueResource
from .base import api_object
from .registry import renders


def resource(r: QueueResource) -> dict:
    return {"quota": r.quota, "limit": r.limit, "overQuotaWeight": r.over_quota_weight}


@renders(Queue)
class QueueConstruct(Construct):
    def __init__(self, scope: Construct, queue: Queue):
        super().__init__(scope, f"queue-{queue.meta.name}")
        api_object(self, "scheduling.run.ai/v2", "Queue", queue.meta,
                   spec={"displayName": queue.display_name,
                         "resources": {"gpu": resource(queue.gpu), "cpu": resource(queue.cpu),
                                       "memory": resource(queue.memory)}})
