"""Access: who may call the endpoint, which namespaces may reach the pods on which ports, and the mesh policy
enforcing tokens."""

from __future__ import annotations

from enum import Enum
from typing import Any, assert_never

from ..model import (Access, AddressPeer, Ambient, ClaimRule, ClusterLocal, DeploymentMode, IdentityRule, IngressPolicy,
                     IngressRule, Jwt, KedaHttp, MeshedPrometheus, Meta, NamespacePeer, PlainTextPrometheus, PodSelector,
                     PolicyBinding, Public, Scaling, ServiceTarget, Sidecar, TokenlessRule, WakeByKedaHttp, ZtunnelGuard)
from . import istio, naming, nim
from .context import WorkloadContext


class AccessLevel(Enum):
    """spec.access.type: who may call the endpoint."""

    CLUSTER_LOCAL = "clusterLocal"       # the default: no route from outside the cluster
    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    GROUPS = "groups"
    USERS = "users"

    @property
    def needs_token(self) -> bool:
        """A caller must present a token, which a mesh proxy checks."""
        return self in (AccessLevel.AUTHENTICATED, AccessLevel.GROUPS, AccessLevel.USERS)


def access_level(spec: dict[str, Any]) -> AccessLevel:
    """The access level a workload's spec asks for (read once a workload's documents are layered)."""
    return AccessLevel(spec.get("access", {}).get("type", AccessLevel.CLUSTER_LOCAL.value))

# Knative's data path (knative/serving pkg/networking/constants.go): requests reach the queue-proxy on 8012
# from the activator (in knative-serving) or a Knative gateway (in the gateway namespace, also for cluster-local
# traffic through knative-local-gateway); the autoscaler scrapes the queue-proxy on 9090 and probes on 8022.
KNATIVE_QUEUE_PORT = 8012
KNATIVE_ADMIN_PORT = 8022
KNATIVE_AUTOSCALER_METRICS_PORT = 9090
# The activator and autoscaler probe and scrape these without a token (knative-serving's istio-authorization docs).
KNATIVE_SYSTEM_PATHS = ("/healthz", "/metrics")


def resolve_access(ctx: WorkloadContext, mode: DeploymentMode) -> Access:
    env = ctx.env
    level = access_level(ctx.spec)
    if "access" not in ctx.spec:
        ctx.record("spec.access.type", level.value, "default (no route from outside the cluster)")
    else:
        ctx.value(("spec", "access", "type"))
    if level is AccessLevel.PUBLIC and not env.allow_public_endpoints:
        ctx.error(("spec", "access", "type"), f"environment {env.name} does not allow public endpoints",
                  "use authenticated, groups or users, or set policy.allowPublicEndpoints in the environment")
    if level is AccessLevel.CLUSTER_LOCAL:
        return ClusterLocal()
    if level is AccessLevel.PUBLIC:
        return Public()
    identity = env.identity
    if identity is None:
        ctx.error(("spec", "access", "type"), f"access '{level.value}' needs spec.identity in environment {env.name}",
                  "declare the identity provider's issuer and jwksUri there")
        return Public()  # never rendered: the error stops the build
    if isinstance(env.mesh, Ambient) and mode is DeploymentMode.KNATIVE:
        # In Knative mode <name>-predictor is an ExternalName Service Knative makes (a DNS alias of its local
        # gateway, knative/serving route/resources/service.go): no waypoint serves it, so policies bound to it
        # would never see a request, and a Knative revision's own Services change name with every revision.
        ctx.error(("spec", "access", "type"), f"access '{level.value}' in an ambient mesh needs Standard mode: in "
                  "Knative mode the predictor Service is an ExternalName alias that no waypoint serves, so no token "
                  "would ever be checked", "use Standard mode (a fixed replica count or the hpa/keda backends), the "
                  "sidecar mesh, or access clusterLocal or public")
    claim = None
    if level is AccessLevel.GROUPS:
        claim = ClaimRule(identity.groups_claim, tuple(ctx.spec["access"]["groups"]))
    elif level is AccessLevel.USERS:
        claim = ClaimRule(identity.user_claim, tuple(ctx.spec["access"]["users"]))
    return Jwt(level.value, authentication=Meta(naming.request_authentication(ctx.name)),
               authorization=Meta(naming.authorization_policy(ctx.name)), binding=policy_binding(ctx),
               issuer=identity.issuer, jwks_uri=identity.jwks_uri, audiences=identity.audiences, claim=claim,
               tokenless=tokenless_rules(ctx, mode))


def tokenless_rules(ctx: WorkloadContext, mode: DeploymentMode) -> tuple[TokenlessRule, ...]:
    """What the AuthorizationPolicy admits without a token.

    - A GET of NIM's metrics path, except through the gateway (not from the internet). A plain-text scrape has no
      peer namespace: Istio compares the mTLS-only namespace field to an empty value (istio.io
      ISTIO-SECURITY-2021-003), so notNamespaces matches it while the gateway (mTLS, in the mesh) does not.
    - In Knative mode, the activator's and autoscaler's probes and scrapes from Knative's namespace.
    """
    rules = [TokenlessRule(paths=(nim.METRICS_PATH,), methods=("GET",), not_from_namespaces=(ctx.env.gateway.namespace,))]
    if mode is DeploymentMode.KNATIVE:
        rules.append(TokenlessRule(paths=KNATIVE_SYSTEM_PATHS, from_namespaces=(ctx.env.knative_namespace,)))
    return tuple(rules)


def policy_binding(ctx: WorkloadContext) -> PolicyBinding:
    """Sidecars enforce policies on the pods they run in; in ambient mode the waypoint enforces them for the
    predictor Service (an L7 policy bound by selector would make ztunnel drop all traffic)."""
    match ctx.env.mesh:
        case Sidecar():
            return PodSelector(naming.pod_selector(ctx.name))
        case Ambient(trust_domain=trust_domain):
            return ServiceTarget(naming.predictor(ctx.name), ztunnel_guard(ctx, trust_domain))
        case _:
            assert_never(ctx.env.mesh)


def ztunnel_guard(ctx: WorkloadContext, trust_domain: str) -> ZtunnelGuard:
    """Pod-IP traffic skips the waypoint (istio.io ambient/usage/l4-policy: "in-mesh traffic needs to come from my
    waypoint"), so ztunnel admits to the pods only the waypoint's identity, which the token rules guard, and
    Prometheus' scrape of NIM's port: by its service account, by its namespace's identities, or (Prometheus
    outside the mesh, no identity at all) by the port alone, which opens the whole API on it (the README says so)."""
    env, namespace = ctx.env, ctx.project.namespace
    match env.scraper:
        case MeshedPrometheus(service_account=account) if account:
            scrape = IdentityRule(principals=(istio.principal(trust_domain, env.monitoring_namespace, account),),
                                  ports=(nim.PORT,))
        case MeshedPrometheus():
            scrape = IdentityRule(namespaces=(env.monitoring_namespace,), ports=(nim.PORT,))
        case PlainTextPrometheus():
            scrape = IdentityRule(ports=(nim.PORT,))
        case _:
            assert_never(env.scraper)
    waypoint = IdentityRule(principals=(istio.waypoint_principal(trust_domain, namespace),))
    return ZtunnelGuard(Meta(naming.ztunnel_policy(ctx.name)), naming.pod_selector(ctx.name), (waypoint, scrape))


def plaintext_ports(mode: DeploymentMode) -> tuple[int, ...]:
    """The ports callers outside the mesh reach: the NIM port (scrape, interceptor) and Knative's queue-proxy."""
    return (nim.PORT, KNATIVE_QUEUE_PORT) if mode is DeploymentMode.KNATIVE else (nim.PORT,)


def ingress_policy(ctx: WorkloadContext, access: Access, scaling: Scaling, mode: DeploymentMode,
                   meshed: bool) -> IngressPolicy:
    """Who may open connections to the predictor pods, port by port. In an ambient namespace meshed callers
    arrive over HBONE (the waypoint, a meshed Prometheus), and kubelet probes from ambient's probe address."""
    env = ctx.env
    own, gateway = NamespacePeer(ctx.project.namespace), NamespacePeer(env.gateway.namespace, env.gateway.pod_labels)
    knative = NamespacePeer(env.knative_namespace)
    exposed = not isinstance(access, ClusterLocal)
    rules = [IngressRule((NamespacePeer(env.monitoring_namespace),), (nim.PORT,))]   # Prometheus scrapes /v1/metrics
    if mode is DeploymentMode.KNATIVE:
        # Knative's own gateways (its ingress and knative-local-gateway, which carries cluster-local calls) sit in
        # the gateway namespace without the pod labels of KServe's Standard-mode gateway: the whole namespace
        rules.append(IngressRule((own, NamespacePeer(env.gateway.namespace), knative), (KNATIVE_QUEUE_PORT,)))
        rules.append(IngressRule((knative,), (KNATIVE_ADMIN_PORT, KNATIVE_AUTOSCALER_METRICS_PORT)))
    elif isinstance(scaling, KedaHttp) and isinstance(env.scale_from_zero, WakeByKedaHttp):
        # The add-on scales on the requests its interceptor counts: a request that reaches the predictor another
        # way is invisible to it, and a busy workload could be scaled to zero. Only the interceptor reaches the
        # pods; callers in the project's namespace use the wake Service like everyone else.
        rules.append(IngressRule((NamespacePeer(env.scale_from_zero.interceptor_namespace),), (nim.PORT,)))
    else:
        rules.append(IngressRule(tuple([own] + ([gateway] if exposed else [])), (nim.PORT,)))
    if meshed and isinstance(env.mesh, Ambient):
        rules = [IngressRule(r.peers, r.ports + (istio.HBONE_PORT,)) for r in rules]
        rules.append(IngressRule((AddressPeer(istio.KUBELET_PROBE_CIDR),), (nim.PORT,)))
    return IngressPolicy(Meta(naming.ingress_policy(ctx.name)), naming.pod_selector(ctx.name), tuple(rules))
