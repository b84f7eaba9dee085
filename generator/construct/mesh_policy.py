"""Istio policies for token access: RequestAuthentication validates tokens, AuthorizationPolicy requires one.

A RequestAuthentication alone lets token-less requests through; the ALLOW policy is what demands a principal.
"""

from __future__ import annotations

from constructs import Construct

from ..model import ClusterLocal, Jwt, Public
from .base import api_object, match_labels
from .registry import renders, renders_nothing

renders_nothing(ClusterLocal, Public)


@renders(Jwt)
class JwtPolicyConstruct(Construct):
    def __init__(self, scope: Construct, jwt: Jwt):
        super().__init__(scope, "mesh-policy")
        selector = match_labels(jwt.selector)
        rule: dict = {"issuer": jwt.issuer, "jwksUri": jwt.jwks_uri}
        if jwt.audiences:
            rule["audiences"] = list(jwt.audiences)
        api_object(self, "security.istio.io/v1", "RequestAuthentication", jwt.authentication,
                   spec={"selector": selector, "jwtRules": [rule]})
        caller: dict = {"from": [{"source": {"requestPrincipals": ["*"]}}]}
        if jwt.claim is not None:
            caller["when"] = [{"key": f"request.auth.claims[{jwt.claim.claim}]", "values": list(jwt.claim.values)}]
        scrape = {"from": [{"source": {"namespaces": [jwt.scrape_namespace]}}],
                  "to": [{"operation": {"methods": list(jwt.scrape_methods), "paths": list(jwt.scrape_paths)}}]}
        api_object(self, "security.istio.io/v1", "AuthorizationPolicy", jwt.authorization,
                   spec={"selector": selector, "action": "ALLOW", "rules": [caller, scrape]})
