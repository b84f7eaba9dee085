"""Istio policies: RequestAuthentication validates tokens, AuthorizationPolicy requires one, and a
PeerAuthentication lets plain-text scrapers and interceptors outside the mesh reach the workload's ports. In
ambient mode a second, L4 AuthorizationPolicy on the pods lets ztunnel admit only the waypoint and the scrape.

A RequestAuthentication alone lets token-less requests through; the ALLOW policy is what demands a principal.
"""

from __future__ import annotations

from typing import Any, assert_never

from constructs import Construct

from ..model import (Access, ClusterLocal, IdentityRule, Jwt, PeerPolicy, PodSelector, PolicyBinding, Public, ServiceTarget,
                     TokenlessRule, ZtunnelGuard)
from .base import api_object, match_labels


def access(scope: Construct, value: Access) -> None:
    match value:
        case Jwt():
            jwt_policies(scope, value)
        case ClusterLocal() | Public():
            pass                         # the NetworkPolicy and KServe's routing decide who reaches them
        case _:
            assert_never(value)


def binding(value: PolicyBinding) -> dict[str, Any]:
    match value:
        case PodSelector(labels):
            return {"selector": match_labels(labels)}
        case ServiceTarget(service=service):
            return {"targetRefs": [{"group": "", "kind": "Service", "name": service}]}
        case _:
            assert_never(value)


def tokenless_rule(rule: TokenlessRule) -> dict[str, Any]:
    source: dict[str, Any] = {}
    if rule.from_namespaces:
        source["namespaces"] = list(rule.from_namespaces)
    if rule.not_from_namespaces:
        source["notNamespaces"] = list(rule.not_from_namespaces)
    operation: dict[str, Any] = {"paths": list(rule.paths)}
    if rule.methods:
        operation["methods"] = list(rule.methods)
    return {"from": [{"source": source}], "to": [{"operation": operation}]}


def jwt_policies(scope: Construct, jwt: Jwt) -> None:
    bound = binding(jwt.binding)
    rule: dict[str, Any] = {"issuer": jwt.issuer, "jwksUri": jwt.jwks_uri}
    if jwt.audiences:
        rule["audiences"] = list(jwt.audiences)
    api_object(scope, "security.istio.io/v1", "RequestAuthentication", jwt.authentication,
               spec=bound | {"jwtRules": [rule]})
    caller: dict[str, Any] = {"from": [{"source": {"requestPrincipals": ["*"]}}]}
    if jwt.claim is not None:
        caller["when"] = [{"key": f"request.auth.claims[{jwt.claim.claim}]", "values": list(jwt.claim.values)}]
    api_object(scope, "security.istio.io/v1", "AuthorizationPolicy", jwt.authorization,
               spec=bound | {"action": "ALLOW", "rules": [caller] + [tokenless_rule(r) for r in jwt.tokenless]})
    if isinstance(jwt.binding, ServiceTarget):
        ztunnel_guard(scope, jwt.binding.guard)


def identity_rule(rule: IdentityRule) -> dict[str, Any]:
    """Only L4 attributes (identities, ports): ztunnel denies everything under a policy with L7 ones."""
    source: dict[str, Any] = {}
    if rule.principals:
        source["principals"] = list(rule.principals)
    if rule.namespaces:
        source["namespaces"] = list(rule.namespaces)
    found: dict[str, Any] = {"from": [{"source": source}]} if source else {}
    if rule.ports:
        found["to"] = [{"operation": {"ports": [str(port) for port in rule.ports]}}]
    return found


def ztunnel_guard(scope: Construct, guard: ZtunnelGuard) -> None:
    api_object(scope, "security.istio.io/v1", "AuthorizationPolicy", guard.meta,
               spec={"selector": match_labels(guard.selector), "action": "ALLOW",
                     "rules": [identity_rule(r) for r in guard.rules]})


def peer_policy(scope: Construct, peer: PeerPolicy) -> None:
    api_object(scope, "security.istio.io/v1", "PeerAuthentication", peer.meta,
               spec={"selector": match_labels(peer.selector),
                     "portLevelMtls": {str(port): {"mode": "PERMISSIVE"} for port in peer.permissive_ports}})
