"""Access: who may call the endpoint, which namespaces may reach the pods, and the mesh policy enforcing tokens."""

from __future__ import annotations

from ..model import Access, ClaimRule, ClusterLocal, IngressPolicy, Jwt, Meta, Public
from . import naming, nim
from .context import WorkloadContext

TOKEN_KINDS = ("authenticated", "groups", "users")


def resolve_access(ctx: WorkloadContext) -> Access:
    env = ctx.env
    access = ctx.spec.get("access")
    if access is None:
        ctx.record("spec.access.type", "clusterLocal", "default (no route from outside the cluster)")
        return ClusterLocal()
    kind = ctx.value(("spec", "access", "type"))
    if kind == "public" and not env.allow_public_endpoints:
        ctx.error(("spec", "access", "type"), f"environment {env.name} does not allow public endpoints",
                  "use authenticated, groups or users, or set policy.allowPublicEndpoints in the environment")
    if kind == "clusterLocal":
        return ClusterLocal()
    if kind == "public":
        return Public()
    identity = env.identity
    if identity is None:
        ctx.error(("spec", "access", "type"), f"access '{kind}' needs spec.identity in environment {env.name}",
                  "declare the identity provider's issuer and jwksUri there")
        return Public()  # never rendered: the error stops the build
    claim = None
    if kind == "groups":
        claim = ClaimRule(identity.groups_claim, tuple(access["groups"]))
    elif kind == "users":
        claim = ClaimRule(identity.user_claim, tuple(access["users"]))
    return Jwt(kind, authentication=Meta(naming.request_authentication(ctx.name)),
               authorization=Meta(naming.authorization_policy(ctx.name)), selector=naming.pod_selector(ctx.name),
               issuer=identity.issuer, jwks_uri=identity.jwks_uri, audiences=identity.audiences, claim=claim,
               scrape_namespace=env.monitoring_namespace, scrape_paths=(nim.METRICS_PATH,), scrape_methods=("GET",))


def ingress_policy(ctx: WorkloadContext, access: Access) -> IngressPolicy:
    """The project's own pods and the monitoring namespace always; the gateway only for exposed endpoints."""
    namespaces = [ctx.project.namespace, ctx.env.monitoring_namespace]
    if not isinstance(access, ClusterLocal):
        namespaces.append(ctx.env.gateway_namespace)
    return IngressPolicy(Meta(naming.ingress_policy(ctx.name)), naming.pod_selector(ctx.name), tuple(namespaces), nim.PORT)
