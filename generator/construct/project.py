"""A project's namespace and its guard rails: ResourceQuota, LimitRange and a default-deny ingress policy."""

from __future__ import annotations

from constructs import Construct

from ..model import DefaultDenyIngress, LimitRange, NamespaceObject, ResourceQuota, Waypoint
from .base import api_object
from .registry import renders


@renders(NamespaceObject)
class NamespaceConstruct(Construct):
    def __init__(self, scope: Construct, namespace: NamespaceObject):
        super().__init__(scope, "namespace")
        api_object(self, "v1", "Namespace", namespace.meta)


@renders(ResourceQuota)
class ResourceQuotaConstruct(Construct):
    def __init__(self, scope: Construct, quota: ResourceQuota):
        super().__init__(scope, "quota")
        api_object(self, "v1", "ResourceQuota", quota.meta, spec={"hard": dict(quota.hard)})


@renders(LimitRange)
class LimitRangeConstruct(Construct):
    def __init__(self, scope: Construct, limits: LimitRange):
        super().__init__(scope, "limits")
        api_object(self, "v1", "LimitRange", limits.meta,
                   spec={"limits": [{"type": "Container", "defaultRequest": dict(limits.default_request),
                                     "default": dict(limits.default_limit)}]})


@renders(DefaultDenyIngress)
class DefaultDenyConstruct(Construct):
    def __init__(self, scope: Construct, policy: DefaultDenyIngress):
        super().__init__(scope, "default-deny")
        api_object(self, "networking.k8s.io/v1", "NetworkPolicy", policy.meta,
                   spec={"podSelector": {}, "policyTypes": ["Ingress"]})


@renders(Waypoint)
class WaypointConstruct(Construct):
    """Istio's ambient waypoint for the namespace's Services (istio.io docs ambient/usage/waypoint)."""

    def __init__(self, scope: Construct, waypoint: Waypoint):
        super().__init__(scope, "waypoint")
        api_object(self, "gateway.networking.k8s.io/v1", "Gateway", waypoint.meta,
                   spec={"gatewayClassName": "istio-waypoint",
                         "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]})
