"""Istio policies: RequestAuthentication validates tokens, AuthorizationPolicy requires one, and a
PeerAuthentication lets plain-text scrapers and interceptors outside the mesh reach the workload's ports.

A RequestAuthentication alone lets token-less requests through; the ALLOW policy is what demands a principal.
In sidecar mode the policies select the predictor pods; in ambient mode they target the predictor Service,
whose waypoint enforces them (L7 rules bound by selector would make ztunnel drop all traffic).
"""

from __future__ import annotations

from constructs import Construct

from ..model import ClusterLocal, Jwt, PeerPolicy, Public
from .base import api_object, match_labels
from .registry import renders, renders_nothing

renders_nothing(ClusterLocal, Public)


@renders(Jwt)
class JwtPolicyConstruct(Construct):
    def __init__(self, scope: Construct, jwt: Jwt):
        super().__init__(scope, "mesh-policy")
        if jwt.selector is not None:
            bound: dict = {"selector": match_labels(jwt.selector)}
        else:
            bound = {"targetRefs": [{"group": "", "kind": "Service", "name": jwt.target_service}]}
        rule: dict = {"issuer": jwt.issuer, "jwksUri": jwt.jwks_uri}
        if jwt.audiences:
            rule["audiences"] = list(jwt.audiences)
        api_object(self, "security.istio.io/v1", "RequestAuthentication", jwt.authentication,
                   spec=bound | {"jwtRules": [rule]})
        caller: dict = {"from": [{"source": {"requestPrincipals": ["*"]}}]}
        if jwt.claim is not None:
            caller["when"] = [{"key": f"request.auth.claims[{jwt.claim.claim}]", "values": list(jwt.claim.values)}]
        # A plain-text peer has no namespace: Istio compares the mTLS-only namespace field to an empty value
        # (istio.io ISTIO-SECURITY-2021-003), so notNamespaces matches it; the gateway (mTLS, in the mesh) does not.
        scrape = {"from": [{"source": {"notNamespaces": list(jwt.open_paths_not_from)}}],
                  "to": [{"operation": {"methods": ["GET"], "paths": list(jwt.open_paths)}}]}
        rules = [caller, scrape]
        if jwt.system_namespaces:
            rules.append({"from": [{"source": {"namespaces": list(jwt.system_namespaces)}}],
                          "to": [{"operation": {"paths": list(jwt.system_paths)}}]})
        api_object(self, "security.istio.io/v1", "AuthorizationPolicy", jwt.authorization,
                   spec=bound | {"action": "ALLOW", "rules": rules})


@renders(PeerPolicy)
class PeerPolicyConstruct(Construct):
    def __init__(self, scope: Construct, peer: PeerPolicy):
        super().__init__(scope, "peer-policy")
        api_object(self, "security.istio.io/v1", "PeerAuthentication", peer.meta,
                   spec={"selector": match_labels(peer.selector),
                         "portLevelMtls": {str(port): {"mode": "PERMISSIVE"} for port in peer.permissive_ports}})
