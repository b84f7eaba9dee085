"""The Environment document: cluster facts and policies, with their defaults decided here."""

from __future__ import annotations

from typing import Any

from ..diagnostics import Diagnostic
from ..inputs.load import Document
from ..model import (Ambient, AutoscalingBackend, GitOps, Images, DefaultScheduler, DeploymentMode, Environment, Identity, KaiScheduler,
                     IngressGateway, KServe, Mesh, MeshedPrometheus, MetricSource, PlainTextPrometheus, Scraper, NodePool, Priority, ScaleFromZero, Scheduler, Sidecar, Taint, WakeByKedaHttp,
                     WakeByKnative, labels_of)
from ..quantities import canonical
from . import kai
from .container_env import env_settings
from .context import suggest
from .outbound import outbound_of
from .monitoring import query_problems

# KServe 0.16 renamed the modes (RawDeployment -> Standard, Serverless -> Knative) and still accepts the old
# names; 0.15 knows only the old ones and silently falls back to its default mode for anything else
# (kserve pkg/constants/constants.go, utils.GetDeploymentMode at v0.15.2 and v0.20.0). The same release added
# spec.predictor.storageUris, and autoscalerClass none (0.15.1; versions here are major.minor, so 0.16).
DEFAULT_KSERVE_VERSION = "0.20"
MODE_NAMES = {"Standard": DeploymentMode.STANDARD, "RawDeployment": DeploymentMode.STANDARD,
              "Knative": DeploymentMode.KNATIVE, "Serverless": DeploymentMode.KNATIVE}
KSERVE_RENAMED_MODES = (0, 16)
# Kubernetes runs init containers with restartPolicy Always (native sidecars) by default from 1.29.
KUBERNETES_NATIVE_SIDECARS = (1, 29)
# topologySpreadConstraints matchLabelKeys: beta and on by default from Kubernetes 1.27 (MatchLabelKeysInPodTopologySpread).
KUBERNETES_MATCH_LABEL_KEYS = (1, 27)


def at_least(version: str, minimum: tuple[int, int]) -> bool:
    """A major.minor version (KServe's, Kubernetes') compared with a minimum."""
    return tuple(int(x) for x in version.split(".")[:2]) >= minimum


def kserve(version: str) -> KServe:
    modern = at_least(version, KSERVE_RENAMED_MODES)
    return KServe(version, standard_mode="Standard" if modern else "RawDeployment",
                  knative_mode="Knative" if modern else "Serverless", storage_uris=modern,
                  autoscaler_class_none=modern)


DEFAULT_KNATIVE_NAMESPACE = "knative-serving"
DEFAULT_TRUST_DOMAIN = "cluster.local"     # istiod's meshConfig.trustDomain default
DEFAULT_GATEWAY_NAMESPACE = "istio-system"  # Istio's ingress gateway, which KServe's Istio ingress routes through
DEFAULT_KEDA_NAMESPACE = "keda"            # the HTTP add-on's chart installs its interceptor beside KEDA
# The interceptor proxy Service and port of the KEDA HTTP add-on (http-add-on config/interceptor/proxy-service.yaml).
KEDA_INTERCEPTOR_SERVICE = "keda-add-ons-http-interceptor-proxy"
KEDA_INTERCEPTOR_PORT = 8080
DEFAULT_NODE_POOL_LABEL = "nimgen.dev/node-pool"
DEFAULT_NODE_TYPE_LABEL = "nimgen.dev/node-type"


def mesh_of(spec: dict[str, Any]) -> Mesh:
    if spec.get("mode", "sidecar") == "ambient":
        return Ambient(spec.get("trustDomain", DEFAULT_TRUST_DOMAIN))
    return Sidecar(spec.get("revision"), spec.get("cni", False), spec.get("podSecurity") == "privileged")


def gateway_of(spec: dict[str, Any]) -> IngressGateway:
    """ingress.gateway names the gateway's namespace and pods; ingress.gatewayNamespace, the older form, the
    namespace alone (every pod of it)."""
    if "gateway" in spec:
        return IngressGateway(spec["gateway"]["namespace"], labels_of(spec["gateway"].get("podLabels")), spec.get("domain"))
    return IngressGateway(spec.get("gatewayNamespace", DEFAULT_GATEWAY_NAMESPACE), (), spec.get("domain"))


def scraper_of(spec: dict[str, Any]) -> Scraper:
    if spec.get("outsideMesh", False):
        return PlainTextPrometheus()
    return MeshedPrometheus(spec.get("serviceAccount"))


def scale_from_zero_of(spec: dict[str, Any] | None) -> ScaleFromZero | None:
    if spec is None:
        return None
    if spec["via"] == "knative":
        return WakeByKnative()
    namespace = spec.get("interceptorNamespace", DEFAULT_KEDA_NAMESPACE)
    return WakeByKedaHttp(namespace, f"{KEDA_INTERCEPTOR_SERVICE}.{namespace}.svc.cluster.local", KEDA_INTERCEPTOR_PORT)


# Argo CD's name for the cluster it runs in; a branch most repositories sync from.
IN_CLUSTER = "https://kubernetes.default.svc"
DEFAULT_REVISION = "main"


def gitops_of(spec: dict[str, Any] | None) -> GitOps | None:
    if spec is None:
        return None
    return GitOps(spec["repoURL"], spec.get("revision", DEFAULT_REVISION), spec.get("cluster", IN_CLUSTER),
                  spec.get("prune", False))


def scheduler_of(spec: dict[str, Any]) -> Scheduler:
    if spec.get("name", "default") == "kai":
        return KaiScheduler(kai.SCHEDULER_NAME)
    return DefaultScheduler()


def priorities_of(spec: dict[str, Any]) -> tuple[Priority, ...]:
    return tuple(Priority(name, class_name) for name, class_name in spec.get("priorities", {}).items())


def default_priority_of(spec: dict[str, Any], scheduler: Scheduler, priorities: tuple[Priority, ...]) -> Priority | None:
    """defaultPriority names a level; priorityClassName (the older form) a class; under KAI a pod without a class
    gets KAI's default for pods it cannot group, so nimgen always names one there."""
    by_name = {p.name: p for p in priorities}
    if spec.get("defaultPriority") in by_name:
        return by_name[spec["defaultPriority"]]
    class_name = spec.get("priorityClassName")
    if class_name is None and isinstance(scheduler, KaiScheduler):
        class_name = kai.DEFAULT_PRIORITY_CLASS
    if class_name is None:
        return None
    return next((p for p in priorities if p.class_name == class_name), Priority(class_name, class_name))


def resolve_environment(doc: Document, name: str) -> Environment:
    spec = doc.data["spec"]
    kserve_spec = spec.get("kserve", {})
    autoscaling = spec.get("autoscaling", {})
    scheduler = spec.get("scheduler", {})
    identity = spec.get("identity")
    priorities = priorities_of(scheduler)
    chosen_scheduler = scheduler_of(scheduler)
    pools = tuple(
        NodePool(
            name=p["name"], product=p["gpu"]["product"], per_node=p["gpu"]["perNode"],
            memory=canonical(p["gpu"]["memory"]) if "memory" in p["gpu"] else None,
            device=p["gpu"].get("device"), mig_profiles=tuple(p["gpu"].get("migProfiles", ())),
            taints=tuple(Taint(t["key"], t["effect"], t.get("value")) for t in p.get("taints", ())),
            nodes=p.get("nodes"),
        )
        for p in spec["nodePools"]
    )
    metrics = tuple(sorted((k, MetricSource(v.get("podsMetric"), v.get("query")))
                           for k, v in autoscaling.get("metrics", {}).items()))
    return Environment(
        name=name, source=doc.file,
        kubernetes_version=spec["kubernetesVersion"],
        native_sidecars=at_least(spec["kubernetesVersion"], KUBERNETES_NATIVE_SIDECARS),
        match_label_keys=at_least(spec["kubernetesVersion"], KUBERNETES_MATCH_LABEL_KEYS),
        kserve=kserve(kserve_spec.get("version", DEFAULT_KSERVE_VERSION)),
        deployment_mode=MODE_NAMES[kserve_spec.get("deploymentMode", "Standard")],
        autoscaling_backend=AutoscalingBackend(autoscaling.get("backend", "hpa")),
        prometheus_address=autoscaling.get("prometheus", {}).get("serverAddress"),
        metrics=metrics,
        scheduler=chosen_scheduler,
        priorities=priorities,
        default_priority=default_priority_of(scheduler, chosen_scheduler, priorities),
        node_pool_label=scheduler.get("nodePoolLabel", DEFAULT_NODE_POOL_LABEL),
        node_type_label=scheduler.get("nodeTypeLabel", DEFAULT_NODE_TYPE_LABEL),
        node_pools=pools,
        storage_default_class=spec.get("storage", {}).get("defaultClass"),
        storage_shared_class=spec.get("storage", {}).get("sharedClass"),
        gateway=gateway_of(spec.get("ingress", {})),
        monitoring_namespace=spec.get("monitoring", {}).get("namespace", "monitoring"),
        scrape_labels=labels_of(spec.get("monitoring", {}).get("podMonitorLabels")),
        scraper=scraper_of(spec.get("monitoring", {})),
        knative_namespace=spec.get("knative", {}).get("namespace", DEFAULT_KNATIVE_NAMESPACE),
        mesh=mesh_of(spec.get("mesh", {})),
        scale_from_zero=scale_from_zero_of(autoscaling.get("scaleFromZero")),
        identity=Identity(identity["issuer"], identity["jwksUri"], tuple(identity.get("audiences", ())),
                          identity.get("groupsClaim", "groups"), identity.get("userClaim", "email")) if identity else None,
        allow_public_endpoints=spec.get("policy", {}).get("allowPublicEndpoints", False),
        auto_tolerate_taints=spec.get("policy", {}).get("autoTolerateTaints", True),
        labels=labels_of(spec.get("labels")),
        images=Images(spec.get("images", {}).get("mirror"), spec.get("images", {}).get("pullSecret")),
        nim_env=env_settings(doc, NIM_ENV)[0],
        network=outbound_of(spec.get("network", {})),
        gitops=gitops_of(spec.get("gitops")),
        layered_on_base=spec.get("base") == "base",
    )


def priority_problems(doc: Document, env: Environment) -> list[Diagnostic]:
    spec = doc.data["spec"].get("scheduler", {})
    problems = []
    wanted = spec.get("defaultPriority")
    if wanted is not None and env.priority(wanted) is None:
        problems.append(doc.diagnostic(("spec", "scheduler", "defaultPriority"), f"unknown priority '{wanted}'",
                                       suggest(wanted, [p.name for p in env.priorities])
                                       or "list it in scheduler.priorities: {<name>: <PriorityClass name>}"))
    elif wanted is not None and "priorityClassName" in spec and env.default_priority is not None \
            and spec["priorityClassName"] != env.default_priority.class_name:
        problems.append(doc.diagnostic(("spec", "scheduler", "priorityClassName"),
                                       f"priorityClassName '{spec['priorityClassName']}' is not the class of "
                                       f"defaultPriority '{wanted}' ({env.default_priority.class_name})",
                                       "both name the default's class: keep defaultPriority and drop priorityClassName"))
    return problems


NIM_ENV = ("spec", "nim", "env")


def environment_problems(doc: Document, env: Environment) -> list[Diagnostic]:
    problems = env_settings(doc, NIM_ENV)[1]
    if doc.data["metadata"]["name"] != env.name:
        problems.append(doc.diagnostic(("metadata", "name"), f"environment name '{doc.data['metadata']['name']}' "
                                       f"does not match its folder environments/{env.name}/",
                                       f"set metadata.name: {env.name} in environments/{env.name}/environment.yaml"))
    seen: dict[str, int] = {}
    for i, pool in enumerate(env.node_pools):
        if pool.name in seen:
            problems.append(doc.diagnostic(("spec", "nodePools", i, "name"), f"duplicate node pool '{pool.name}'"))
        seen[pool.name] = i
    problems.extend(priority_problems(doc, env))
    mode = doc.data["spec"].get("kserve", {}).get("deploymentMode")
    if env.deployment_mode is DeploymentMode.KNATIVE and env.autoscaling_backend is not AutoscalingBackend.KNATIVE:
        problems.append(doc.diagnostic(("spec", "kserve", "deploymentMode"),
                                       f"deploymentMode {mode} scales with Knative, but autoscaling.backend is "
                                       f"{env.autoscaling_backend.value}",
                                       "set autoscaling.backend: knative, or deploymentMode: Standard"))
    if env.deployment_mode is DeploymentMode.KNATIVE and isinstance(env.scale_from_zero, WakeByKedaHttp):
        problems.append(doc.diagnostic(("spec", "autoscaling", "scaleFromZero", "via"),
                                       "in Knative mode Knative's activator wakes workloads from zero; the KEDA HTTP "
                                       "add-on scales Deployments, which Knative mode does not create",
                                       "use scaleFromZero: {via: knative}"))
    monitoring = doc.data["spec"].get("monitoring", {})
    if monitoring.get("outsideMesh") and "serviceAccount" in monitoring:
        problems.append(doc.diagnostic(("spec", "monitoring", "serviceAccount"), "a Prometheus outside the mesh has no "
                                       "identity for its service account to give",
                                       "drop serviceAccount, or outsideMesh if Prometheus is enrolled in the mesh"))
    ingress = doc.data["spec"].get("ingress", {})
    # gateway supersedes an inherited gatewayNamespace; both in one file say the namespace twice
    if "gateway" in ingress and "gatewayNamespace" in ingress and \
            doc.where(("spec", "ingress", "gateway"))[0] == doc.where(("spec", "ingress", "gatewayNamespace"))[0]:
        problems.append(doc.diagnostic(("spec", "ingress", "gatewayNamespace"), "ingress.gateway supersedes "
                                       "ingress.gatewayNamespace: set the namespace once",
                                       "drop gatewayNamespace and keep gateway.namespace"))
    shared = {"gateway": env.gateway.namespace, "monitoring": env.monitoring_namespace, "knative": env.knative_namespace}
    if isinstance(env.scale_from_zero, WakeByKedaHttp):
        shared["KEDA HTTP interceptor"] = env.scale_from_zero.interceptor_namespace
    where = {"gateway": ("spec", "ingress", "gateway", "namespace") if "gateway" in ingress
             else ("spec", "ingress", "gatewayNamespace"), "monitoring": ("spec", "monitoring", "namespace"),
             "knative": ("spec", "knative", "namespace"),
             "KEDA HTTP interceptor": ("spec", "autoscaling", "scaleFromZero", "interceptorNamespace")}
    seen_ns: dict[str, str] = {}
    for role, namespace in shared.items():
        if namespace in seen_ns:
            # each role is admitted to the pods for its own reason: one namespace in two roles admits both
            problems.append(doc.diagnostic(where[role], f"the {role} namespace '{namespace}' is also the "
                                           f"{seen_ns[namespace]} namespace",
                                           "each is trusted differently (e.g. monitoring may reach cluster-local "
                                           "workloads, the gateway may not): give each its own namespace"))
        seen_ns.setdefault(namespace, role)
    if env.autoscaling_backend is AutoscalingBackend.KEDA and not env.prometheus_address:
        problems.append(doc.diagnostic(("spec", "autoscaling"), "backend keda needs prometheus.serverAddress",
                                       "KEDA's prometheus trigger queries this address", key=True))
    problems.extend(query_problems(doc, env))
    return problems
