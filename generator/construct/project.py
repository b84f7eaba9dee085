"""A project's namespace and its guard rails: ResourceQuota, LimitRange, a default-deny ingress policy, and in an
ambient mesh its waypoint."""

from __future__ import annotations

from constructs import Construct

from ..model import DefaultDenyIngress, LimitRange, NamespaceObject, ResourceQuota, Waypoint
from .base import api_object


def namespace(scope: Construct, value: NamespaceObject) -> None:
    api_object(scope, "v1", "Namespace", value.meta)


def resource_quota(scope: Construct, quota: ResourceQuota) -> None:
    api_object(scope, "v1", "ResourceQuota", quota.meta, spec={"hard": dict(quota.hard)})


def limit_range(scope: Construct, limits: LimitRange) -> None:
    api_object(scope, "v1", "LimitRange", limits.meta,
               spec={"limits": [{"type": "Container", "defaultRequest": dict(limits.default_request),
                                 "default": dict(limits.default_limit)}]})


def default_deny(scope: Construct, policy: DefaultDenyIngress) -> None:
    api_object(scope, "networking.k8s.io/v1", "NetworkPolicy", policy.meta,
               spec={"podSelector": {}, "policyTypes": ["Ingress"]})


def waypoint(scope: Construct, value: Waypoint) -> None:
    api_object(scope, "gateway.networking.k8s.io/v1", "Gateway", value.meta,
               spec={"gatewayClassName": value.gateway_class,
                     "listeners": [{"name": value.listener, "port": value.port, "protocol": value.protocol}]})
