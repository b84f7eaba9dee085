"""Access: who may call the endpoint, which namespaces may reach the pods on which ports, and the mesh policy
enforcing tokens."""

from __future__ import annotations

from ..model import Access, ClaimRule, ClusterLocal, IngressPolicy, IngressRule, Jwt, KedaHttp, Meta, Public, Scaling
from . import naming, nim
from .context import WorkloadContext

# Knative's data path (knative/serving pkg/networking/constants.go): requests reach the queue-proxy on 8012
# from the activator (in knative-serving) or a Knative gateway (in the gateway namespace, also for cluster-local
# traffic through knative-local-gateway); the autoscaler scrapes the queue-proxy on 9090 and probes on 8022.
KNATIVE_QUEUE_PORT = 8012
KNATIVE_ADMIN_PORT = 8022
KNATIVE_AUTOSCALER_METRICS_PORT = 9090
# The activator and autoscaler probe and scrape these without a token (knative-serving's istio-authorization docs).
KNATIVE_SYSTEM_PATHS = ("/healthz", "/metrics")


def resolve_access(ctx: WorkloadContext, knative: bool) -> Access:
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
    ambient = env.mesh.mode == "ambient"
    return Jwt(kind, authentication=Meta(naming.request_authentication(ctx.name)),
               authorization=Meta(naming.authorization_policy(ctx.name)),
               selector=None if ambient else naming.pod_selector(ctx.name),
               target_service=naming.predictor_deployment(ctx.name) if ambient else None,
               issuer=identity.issuer, jwks_uri=identity.jwks_uri, audiences=identity.audiences, claim=claim,
               open_paths=(nim.METRICS_PATH,), open_paths_not_from=(env.gateway_namespace,),
               system_namespaces=(env.knative_namespace,) if knative else (),
               system_paths=KNATIVE_SYSTEM_PATHS if knative else ())


def plaintext_ports(knative: bool) -> tuple[int, ...]:
    """The ports callers outside the mesh reach: the NIM port (scrape, interceptor) and Knative's queue-proxy."""
    return (nim.PORT, KNATIVE_QUEUE_PORT) if knative else (nim.PORT,)


def ingress_policy(ctx: WorkloadContext, access: Access, scaling: Scaling, knative: bool) -> IngressPolicy:
    """Who may open connections to the predictor pods, port by port."""
    env, own = ctx.env, ctx.project.namespace
    exposed = not isinstance(access, ClusterLocal)
    rules = [IngressRule((env.monitoring_namespace,), (nim.PORT,))]   # Prometheus scrapes NIM's /v1/metrics
    if knative:
        rules.append(IngressRule((own, env.gateway_namespace, env.knative_namespace), (KNATIVE_QUEUE_PORT,)))
        rules.append(IngressRule((env.knative_namespace,), (KNATIVE_ADMIN_PORT, KNATIVE_AUTOSCALER_METRICS_PORT)))
    else:
        callers = [own] + ([env.gateway_namespace] if exposed else [])
        if isinstance(scaling, KedaHttp) and env.scale_from_zero is not None:
            callers.append(env.scale_from_zero.interceptor_namespace)
        rules.append(IngressRule(tuple(callers), (nim.PORT,)))
    return IngressPolicy(Meta(naming.ingress_policy(ctx.name)), naming.pod_selector(ctx.name), tuple(rules))
