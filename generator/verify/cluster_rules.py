"""Cluster rules: read the objects of one environment together and refuse what a cluster would not run as
intended, even though every object passes its schema.

Each rule is a function from the environment's objects to violations; each violation names the rule, the
object and the inputs it came from (the file's "# Sources:" header). Generated output never trips them: they
catch regressions of nimgen and of future constructs. The facts behind each rule are in docs/CLUSTER.md.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..diagnostics import Diagnostic, json_path
from ..inputs.load import PathKey
from ..manifests import sources_in
from .schemas import locate

GPU_RESOURCE = re.compile(r"^nvidia\.com/(gpu|mig-.+)$")
ISVC_POD_LABEL = "serving.kserve.io/inferenceservice"
ISTIO_KINDS = ("RequestAuthentication", "AuthorizationPolicy", "PeerAuthentication")
# Pod Security "restricted": the volume types it allows, and the one capability a container may add.
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret"}
STANDARD_PROGRESS_DEADLINE_SECONDS = 600   # KServe Standard mode: Kubernetes' default, not configurable
# The deadline also covers scheduling and pulling a 10-40 GB NIM image: a start-up window must leave this much.
PULL_ALLOWANCE_SECONDS = 180
KNATIVE_QUEUE_PORT = 8012
# Istio ambient (istio.io docs ambient/usage/networkpolicy): pod-to-pod traffic arrives over HBONE on 15008, and
# kubelet probes come from a link-local address; a waypoint's pods carry their Gateway's name in a label.
HBONE_PORT = 15008
AMBIENT_PROBE_CIDR = "169.254.7.127/32"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
DEFAULT_STORAGE_MOUNT = "/mnt/models"      # where KServe's storage initializer puts a storage URI's files
# Knative names the serving container's port "user-port" in a revision's pods, whatever the Service called it
# (knative/serving pkg/apis/serving/v1 UserPortName), beside the queue-proxy's own ports.
KNATIVE_USER_PORT = "user-port"
KNATIVE_POD_PORTS = frozenset({KNATIVE_USER_PORT, "queue-port", "http-queueadm", "http-autometric", "http-usermetric"})
# KAI (KAI-Scheduler pkg/common/constants/constants.go): a GPU share is a pod annotation, gpu-fraction or gpu-memory,
# for the container gpu-fraction-container-name names; a pod's queue is its kai.scheduler/queue label.
GPU_SHARES = ("gpu-fraction", "gpu-memory")
GPU_SHARE_CONTAINER = "gpu-fraction-container-name"
WHOLE_GPU = "nvidia.com/gpu"
KAI_QUEUE_LABEL = "kai.scheduler/queue"
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|=)\s*"([^"]*)"')
_SECONDS = re.compile(r"^([0-9]+)s$")
_NAN_GUARD = re.compile(r">=?\s*0\)\s*or\s+on\s*\(\s*\)\s*vector\(\s*0\s*\)\s*$")


@dataclass(frozen=True)
class EnvironmentFacts:
    """What the rules need to know of the environment besides its objects."""

    name: str
    gateway_namespace: str
    kserve_version: str                  # major.minor
    gateway_pod_labels: tuple[tuple[str, str], ...] = ()   # the gateway's pods in its namespace (all when empty)
    monitoring_namespace: str = "monitoring"
    scrape_in_mesh: bool = True          # in an ambient mesh, Prometheus scrapes with an mTLS identity


@dataclass(frozen=True)
class Obj:
    file: str                            # relative to out/<env>/
    index: int                           # its position among the file's documents
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.mapping("metadata").get("name", ""))

    @property
    def namespace(self) -> str | None:
        found = self.mapping("metadata").get("namespace")
        return found if isinstance(found, str) else None

    def mapping(self, *path: str | int) -> dict[str, Any]:
        """The mapping at path, or {} when a hand-edited object holds anything else there."""
        found = self.at(*path)
        return found if isinstance(found, dict) else {}

    def items(self, *path: str | int) -> list[Any]:
        """The list at path, or []."""
        found = self.at(*path)
        return found if isinstance(found, list) else []

    def at(self, *path: str | int) -> Any:
        node: Any = self.body
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return None
        return node


@dataclass(frozen=True)
class Violation:
    rule: str
    obj: Obj
    path: PathKey
    message: str


class Objects(list[Obj]):
    """An environment's objects, indexed once: by kind, and by the InferenceService whose pods a selector picks."""

    def __init__(self, items: list[Obj]):
        super().__init__(items)
        self._kinds: dict[str, list[Obj]] = {}
        self._selecting: dict[tuple[str, str | None, str], list[Obj]] = {}
        for o in items:
            self._kinds.setdefault(o.kind, []).append(o)
            for path in (("spec", "selector"), ("spec", "podSelector")):
                selector = o.at(*path)
                name = (selector.get("matchLabels") or {}).get(ISVC_POD_LABEL) if isinstance(selector, dict) else None
                if name:
                    self._selecting.setdefault((o.kind, o.namespace, name), []).append(o)
            for ref in o.items("spec", "targetRefs"):
                if isinstance(ref, dict) and ref.get("kind") == "Service" and str(ref.get("name", "")).endswith("-predictor"):
                    self._selecting.setdefault((o.kind, o.namespace, str(ref["name"])[:-len("-predictor")]), []).append(o)

    def of(self, kind: str) -> list[Obj]:
        return self._kinds.get(kind, [])

    def selecting(self, kind: str, isvc: Obj) -> list[Obj]:
        """Objects of `kind` in the InferenceService's namespace that select its pods or target its predictor
        Service (KServe names it `<isvc>-predictor`)."""
        return self._selecting.get((kind, isvc.namespace, isvc.name), [])


Rule = Callable[[Objects, EnvironmentFacts], Iterator[Violation]]
RULES: dict[str, Rule] = {}


def rule(name: str) -> Callable[[Rule], Rule]:
    def register(check: Rule) -> Rule:
        RULES[name] = check
        return check
    return register


# ----------------------------------------------------------------------------------------------- helpers


def namespaces(objects: Objects) -> dict[str, dict[str, Any]]:
    return {o.name: o.mapping("metadata", "labels") for o in objects.of("Namespace")}


def in_standard_mode(isvc: Obj) -> bool:
    mode = isvc.mapping("metadata", "annotations").get("serving.kserve.io/deploymentMode", "Knative")
    return mode in ("Standard", "RawDeployment")


def predictor_pods(objects: Objects) -> dict[tuple[str | None, str], Obj]:
    """InferenceServices by (namespace, predictor Deployment name) -- the name KServe gives it."""
    return {(o.namespace, f"{o.name}-predictor"): o for o in objects.of("InferenceService")}


def progress_deadline(isvc: Obj) -> int:
    """Seconds before the InferenceService's rollout counts as failed: KServe's fixed 600 in Standard mode,
    Knative's annotation (600s by default) in Knative mode."""
    if in_standard_mode(isvc):
        return STANDARD_PROGRESS_DEADLINE_SECONDS
    found = _SECONDS.match(isvc.mapping("metadata", "annotations").get("serving.knative.dev/progress-deadline", "600s"))
    return int(found.group(1)) if found else STANDARD_PROGRESS_DEADLINE_SECONDS


def peer_namespace(peer: dict[str, Any]) -> Any:
    """The namespace a NetworkPolicy peer selects by name, or None."""
    return (peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")


def pod_specs(o: Obj) -> Iterator[tuple[PathKey, dict[str, Any]]]:
    if o.kind == "InferenceService":
        yield ("spec", "predictor"), o.mapping("spec", "predictor")
    elif o.kind == "Job":
        yield ("spec", "template", "spec"), o.mapping("spec", "template", "spec")


def pod_labels(o: Obj) -> Iterator[tuple[PathKey, dict[str, Any]]]:
    """The labels KAI reads a pod's queue from: its owner's, then the pod template's."""
    yield ("metadata", "labels"), o.mapping("metadata", "labels")
    if o.kind == "InferenceService":
        yield ("spec", "predictor", "labels"), o.mapping("spec", "predictor", "labels")
    elif o.kind == "Job":
        yield ("spec", "template", "metadata", "labels"), o.mapping("spec", "template", "metadata", "labels")


def kai_queues(objects: Objects) -> dict[str, Obj]:
    return {o.name: o for o in objects.of("Queue") if str(o.body.get("apiVersion", "")).startswith("scheduling.run.ai/")}


def asked_for(container: Any) -> dict[str, list[str]]:
    """The resources a container requests or limits, each with where: {"nvidia.com/gpu": ["requests", "limits"]}."""
    resources = container.get("resources") if isinstance(container, dict) else None
    found: dict[str, list[str]] = {}
    for kind in ("requests", "limits"):
        listed = resources.get(kind) if isinstance(resources, dict) else None
        for name in listed if isinstance(listed, dict) else {}:
            found.setdefault(str(name), []).append(kind)
    return found


def storage_mounts(isvc: Obj) -> set[str]:
    """Where KServe's storage initializer puts an InferenceService's downloads in the serving container: each
    storageUris entry's mountPath (default /mnt/models), and /mnt/models for a storageUri or STORAGE_URI."""
    predictor = isvc.mapping("spec", "predictor")
    mounts = {str(u.get("mountPath", DEFAULT_STORAGE_MOUNT)) for u in isvc.items("spec", "predictor", "storageUris")
              if isinstance(u, dict)}
    if any(isinstance(c, dict) and "storageUri" in c for c in predictor.values()) or \
            any(e.get("name") == "STORAGE_URI" for c in isvc.items("spec", "predictor", "containers") for e in c.get("env", [])):
        mounts.add(DEFAULT_STORAGE_MOUNT)
    return mounts


def under(path: str, directory: str) -> bool:
    """Whether an absolute path is the directory or lies below it."""
    path, directory = posixpath.normpath(path), posixpath.normpath(directory)
    return path == directory or path.startswith(directory.rstrip("/") + "/")


# ----------------------------------------------------------------------------------------------- the rules


@rule("istio-policy-without-proxy")
def istio_policy_without_proxy(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A selector-bound Istio policy is enforced by the pods' sidecars; a targetRef-bound one by a waypoint."""
    labels = namespaces(objects)
    for o in (o for kind in ISTIO_KINDS for o in objects.of(kind)):
        if o.namespace is None:
            continue
        ns = labels.get(o.namespace, {})
        if o.at("spec", "targetRefs") is not None:
            if ns.get("istio.io/dataplane-mode") != "ambient" or not ns.get("istio.io/use-waypoint"):
                yield Violation("istio-policy-without-proxy", o, ("spec", "targetRefs"),
                                f"{o.kind} {o.name} targets a Service, but namespace {o.namespace} has no ambient waypoint")
        elif ns.get("istio.io/dataplane-mode") == "ambient":
            if o.kind != "PeerAuthentication" and (o.kind != "AuthorizationPolicy" or _has_l7(o)):
                # ztunnel enforces L4 only (identities, ports): it drops all traffic under L7 rules
                yield Violation("istio-policy-without-proxy", o, ("spec", "selector"),
                                f"{o.kind} {o.name} binds L7 rules to pods of the ambient namespace {o.namespace} by "
                                "selector: no waypoint enforces them")
        elif ns.get("istio-injection") != "enabled" and not ns.get("istio.io/rev"):
            yield Violation("istio-policy-without-proxy", o, ("spec", "selector"),
                            f"{o.kind} {o.name} selects pods in namespace {o.namespace}, which gets no sidecar "
                            "injection: nothing enforces it")


def admits_gateway(peer: Any, facts: EnvironmentFacts) -> bool:
    """A NetworkPolicy peer that lets the gateway's pods in: its namespace, and no pod selector or one the
    gateway's pod labels satisfy."""
    if not isinstance(peer, dict):
        return False
    namespace = peer_namespace(peer)
    pods = peer.get("podSelector", {})
    wanted = pods.get("matchLabels", {}) if isinstance(pods, dict) else None
    return namespace == facts.gateway_namespace and isinstance(wanted, dict) \
        and set(wanted.items()) <= set(facts.gateway_pod_labels)


def _ambient(labels: dict[str, dict[str, Any]], namespace: str | None) -> bool:
    return labels.get(namespace or "", {}).get("istio.io/dataplane-mode") == "ambient"


def _ports_and_cidrs(policies: list[Obj]) -> tuple[set[Any], set[Any]]:
    ports = {port.get("port") for p in policies for r in p.items("spec", "ingress") for port in r.get("ports", [])}
    cidrs = {peer.get("ipBlock", {}).get("cidr") for p in policies for r in p.items("spec", "ingress")
             for peer in r.get("from", []) if isinstance(peer, dict)}
    return ports, cidrs


@rule("ambient-traffic-blocked")
def ambient_traffic_blocked(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """In an ambient namespace meshed callers arrive over HBONE (15008) and kubelet probes from ambient's
    link-local address: a pod's NetworkPolicies must admit both; the namespace's default deny isolates its
    waypoint's pods too, so a policy must let callers reach the waypoint on 15008."""
    labels = namespaces(objects)
    for isvc in objects.of("InferenceService"):
        mine = objects.selecting("NetworkPolicy", isvc)
        if not mine or not _ambient(labels, isvc.namespace):
            continue
        ports, cidrs = _ports_and_cidrs(mine)
        if HBONE_PORT not in ports or AMBIENT_PROBE_CIDR not in cidrs:
            yield Violation("ambient-traffic-blocked", mine[0], ("spec", "ingress"),
                            f"NetworkPolicy {mine[0].name} of ambient pods of {isvc.name} admits "
                            + ("no HBONE (port 15008)" if HBONE_PORT not in ports else f"no kubelet probe from {AMBIENT_PROBE_CIDR}"))
    for gateway in objects.of("Gateway"):
        if gateway.at("spec", "gatewayClassName") != "istio-waypoint" or not _ambient(labels, gateway.namespace):
            continue
        mine = [p for p in objects.of("NetworkPolicy") if p.namespace == gateway.namespace and
                p.mapping("spec", "podSelector", "matchLabels").get(GATEWAY_NAME_LABEL) == gateway.name]
        if HBONE_PORT not in _ports_and_cidrs(mine)[0]:
            yield Violation("ambient-traffic-blocked", gateway, ("spec",),
                            f"waypoint {gateway.name}: no NetworkPolicy lets callers reach its pods on port 15008, and "
                            f"the default deny of namespace {gateway.namespace} isolates them")


@rule("waypoint-bypassed")
def waypoint_bypassed(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """Pod-IP traffic skips the waypoint that enforces a Service's token rules: ztunnel must admit only the
    waypoint (and identified or port-bound scrapes) to the pods, through an L4 ALLOW policy on them."""
    labels = namespaces(objects)
    for isvc in objects.of("InferenceService"):
        if not _ambient(labels, isvc.namespace):
            continue
        policies = objects.selecting("AuthorizationPolicy", isvc)
        if not any(p.at("spec", "targetRefs") is not None for p in policies):
            continue                     # no token rules at the waypoint
        guards = [p for p in policies if p.at("spec", "selector") is not None and not _has_l7(p)
                  and p.at("spec", "action") in (None, "ALLOW")]
        open_rules = [r for g in guards for r in g.items("spec", "rules") if isinstance(r, dict)
                      and not r.get("from") and not any(t.get("operation", {}).get("ports") for t in r.get("to", []))]
        if not guards or open_rules:
            yield Violation("waypoint-bypassed", (guards or policies)[0], ("spec",),
                            f"InferenceService {isvc.name}: nothing stops callers reaching its pods past the waypoint "
                            "that checks tokens (no ztunnel policy admitting only the waypoint)" if not guards else
                            f"InferenceService {isvc.name}: its ztunnel policy admits any caller on any port")


@rule("policy-on-external-name")
def policy_on_external_name(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """In Knative mode <isvc>-predictor is an ExternalName Service (a DNS alias of Knative's local gateway): no
    waypoint serves it, so an Istio policy bound to it never sees a request."""
    for isvc in (o for o in objects.of("InferenceService") if not in_standard_mode(o)):
        for kind in ("RequestAuthentication", "AuthorizationPolicy"):
            for policy in objects.selecting(kind, isvc):
                if policy.at("spec", "targetRefs") is not None:
                    yield Violation("policy-on-external-name", policy, ("spec", "targetRefs"),
                                    f"{kind} {policy.name} targets {isvc.name}-predictor, which in Knative mode is an "
                                    "ExternalName Service no waypoint serves: its rules are never enforced")


@rule("cluster-local-label")
def cluster_local_label(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """An InferenceService no gateway may reach must not get an external route from KServe either; one that
    KServe publishes must let the gateway's pods (its namespace, and there the pods it names) reach it."""
    for isvc in objects.of("InferenceService"):
        mine = objects.selecting("NetworkPolicy", isvc)
        reachable = any(admits_gateway(peer, facts)
                        for p in mine for r in p.items("spec", "ingress") for peer in r.get("from", []))
        labels = isvc.mapping("metadata", "labels")
        if mine and not reachable and (labels.get("networking.kserve.io/visibility") != "cluster-local"
                                       or labels.get("networking.knative.dev/visibility") != "cluster-local"):
            yield Violation("cluster-local-label", isvc, ("metadata", "labels"),
                            f"InferenceService {isvc.name} is not reachable from the gateway's pods in "
                            f"{facts.gateway_namespace}, but lacks the cluster-local visibility labels: KServe "
                            "would still publish an external route that ends at its NetworkPolicy")


@rule("metric-without-scrape")
def metric_without_scrape(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """An autoscaler's metric exists only when something scrapes the predictor pods into the labels it queries."""
    pods = predictor_pods(objects)
    for o in objects.of("ScaledObject") + objects.of("HorizontalPodAutoscaler"):
        isvc = pods.get((o.namespace, str(o.at("spec", "scaleTargetRef", "name"))))
        if isvc is None:
            continue
        mine = objects.selecting("PodMonitor", isvc)
        if not mine:
            yield Violation("metric-without-scrape", o, ("spec",),
                            f"{o.kind} {o.name} scales on metrics of {isvc.name}, but no PodMonitor scrapes its pods")
            continue
        produced = {"namespace", "pod", "container", "endpoint", "job", "instance"} | {
            r.get("targetLabel") for m in mine for e in m.items("spec", "podMetricsEndpoints")
            for r in e.get("relabelings", [])}
        for i, trigger in enumerate(o.items("spec", "triggers")):
            query = trigger.get("metadata", {}).get("query", "")
            for label, _, value in _MATCHER.findall(query):
                if isvc.name in value and label not in produced:
                    yield Violation("metric-without-scrape", o, ("spec", "triggers", i, "metadata", "query"),
                                    f"{o.kind} {o.name} selects series by label '{label}', which its PodMonitor does not set")


@rule("latency-as-average")
def latency_as_average(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """KEDA's default AverageValue divides by the target whatever the replica count: a latency must be a Value."""
    for o in objects.of("ScaledObject"):
        for i, trigger in enumerate(o.items("spec", "triggers")):
            if "histogram_quantile" in trigger.get("metadata", {}).get("query", "") and trigger.get("metricType") != "Value":
                yield Violation("latency-as-average", o, ("spec", "triggers", i),
                                f"ScaledObject {o.name} compares a latency quantile as {trigger.get('metricType', 'AverageValue')}")


@rule("idle-query-reads-nan")
def idle_query_reads_nan(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A quantile of no requests is NaN, which KEDA takes as a value: an idle workload's latency query must drop
    NaN and answer a number (a comparison, then `or on() vector(0)`)."""
    for o in objects.of("ScaledObject"):
        for i, trigger in enumerate(o.items("spec", "triggers")):
            query = str(trigger.get("metadata", {}).get("query", ""))
            if "histogram_quantile" in query and not _NAN_GUARD.search(query):
                yield Violation("idle-query-reads-nan", o, ("spec", "triggers", i, "metadata", "query"),
                                f"ScaledObject {o.name} queries a quantile that reads NaN while the workload is idle")


@rule("average-trigger-without-fallback")
def average_trigger_without_fallback(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """When its query fails failureThreshold times in a row KEDA scales to the fallback replicas; without a fallback
    a Prometheus outage leaves the AverageValue triggers' HPA reading nothing. Only currentReplicasIfHigher (KEDA
    2.17+: max(current, replicas), pkg/fallback/fallback.go) never removes serving replicas, and replicas below
    minReplicaCount would be a floor the HPA itself refuses. KEDA's fallback covers the triggers it queries, not cpu
    or memory (CheckFallbackValid), and a Value trigger's fallback divides by ready pods, so only AverageValue
    triggers (KEDA's default metricType) need one."""
    for o in objects.of("ScaledObject"):
        averaged = [i for i, t in enumerate(o.items("spec", "triggers")) if isinstance(t, dict)
                    and t.get("type") not in ("cpu", "memory") and t.get("metricType", "AverageValue") == "AverageValue"]
        if not averaged:
            continue
        fallback = o.at("spec", "fallback")
        if not isinstance(fallback, dict):
            yield Violation("average-trigger-without-fallback", o, ("spec", "triggers", averaged[0]),
                            f"ScaledObject {o.name} has an AverageValue trigger but no fallback: while Prometheus "
                            "is unreachable KEDA cannot hold its replicas")
            continue
        if fallback.get("behavior") != "currentReplicasIfHigher":
            yield Violation("average-trigger-without-fallback", o, ("spec", "fallback"),
                            f"ScaledObject {o.name}'s fallback behavior is {fallback.get('behavior', 'static')}, not "
                            "currentReplicasIfHigher: a Prometheus outage may remove serving replicas")
        least = o.at("spec", "minReplicaCount")
        replicas = fallback.get("replicas")
        if not isinstance(replicas, int) or (isinstance(least, int) and replicas < least):
            yield Violation("average-trigger-without-fallback", o, ("spec", "fallback"),
                            f"ScaledObject {o.name}'s fallback replicas ({replicas}) are below its minReplicaCount "
                            f"({least if isinstance(least, int) else 0})")


def startup_window(probe: Any) -> int | None:
    """How long a startup probe lets a container take to start: initialDelaySeconds + periodSeconds x
    failureThreshold (Kubernetes' defaults 0, 10 and 3); None without a probe or with values that are not numbers."""
    if not isinstance(probe, dict):
        return None
    delay, period, threshold = (probe.get("initialDelaySeconds", 0), probe.get("periodSeconds", 10),
                                probe.get("failureThreshold", 3))
    if not all(isinstance(v, int) for v in (delay, period, threshold)):
        return None
    return int(delay) + int(period) * int(threshold)


@rule("autoscaler-without-scale-up-limit")
def autoscaler_without_scale_up_limit(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A new NIM replica takes its start-up window to become ready, and until then the metric still says the
    replicas are too few: an HPA adds at most one replica per window, or it stacks up replicas (and GPUs) that still
    load. The HPA's default scale-up is max(4 pods, 100%) per 15 s; a Percent policy or a value above 1 adds several
    at once. selectPolicy Disabled adds none, which is allowed (Kubernetes validation: Max, Min or Disabled). KEDA
    hands advanced.horizontalPodAutoscalerConfig.behavior to the HPA it creates unchanged."""
    pods = predictor_pods(objects)
    for o in objects.of("HorizontalPodAutoscaler") + objects.of("ScaledObject"):
        base: PathKey = ("spec", "behavior") if o.kind == "HorizontalPodAutoscaler" else \
            ("spec", "advanced", "horizontalPodAutoscalerConfig", "behavior")
        up = o.at(*base, "scaleUp")
        where: PathKey = (*base, "scaleUp") if isinstance(up, dict) else ("spec",)
        up = up if isinstance(up, dict) else {}
        select = up.get("selectPolicy")
        if select == "Disabled":
            continue
        problems = []
        if select not in (None, "Max", "Min"):
            problems.append(f"selectPolicy {select} is none of Max, Min, Disabled")
        policies = [p for p in up.get("policies") or [] if isinstance(p, dict)]
        if not policies:
            problems.append("has no scale-up policies (the HPA's default adds max(4 pods, 100%) per 15s)")
        problems += [f"policy {i} adds {p.get('value')} {p.get('type')} per period, not 1 Pods"
                     for i, p in enumerate(policies) if p.get("type") != "Pods" or p.get("value") != 1]
        isvc = pods.get((o.namespace, str(o.at("spec", "scaleTargetRef", "name"))))
        window = startup_window(isvc.at("spec", "predictor", "containers", 0, "startupProbe")) if isvc is not None else None
        if isvc is not None and window is not None:      # the target or its probe unknown: nothing to compare with
            problems += [f"policy {i} has periodSeconds {p.get('periodSeconds')}, shorter than the {window}s start-up "
                         f"window of {isvc.name}" for i, p in enumerate(policies)
                         if not isinstance(p.get("periodSeconds"), int) or p["periodSeconds"] < window]
        if problems:
            yield Violation("autoscaler-without-scale-up-limit", o, where,
                            f"{o.kind} {o.name} may add more than one replica per start-up window: " + "; ".join(problems))


@rule("scale-to-zero-without-waking")
def scale_to_zero_without_waking(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """At zero pods a query's series vanish and nothing holds a request: only Knative or the HTTP add-on wake."""
    woken = {(o.namespace, o.at("spec", "scaleTargetRef", "name")) for o in objects.of("HTTPScaledObject")}
    for o in objects.of("ScaledObject") + objects.of("InferenceService"):
        if o.kind == "ScaledObject" and o.at("spec", "minReplicaCount") == 0:
            yield Violation("scale-to-zero-without-waking", o, ("spec", "minReplicaCount"),
                            f"ScaledObject {o.name} scales to zero on a query, which no request can wake")
        if o.kind == "InferenceService" and in_standard_mode(o) and o.at("spec", "predictor", "minReplicas") == 0 \
                and (o.namespace, f"{o.name}-predictor") not in woken:
            yield Violation("scale-to-zero-without-waking", o, ("spec", "predictor", "minReplicas"),
                            f"InferenceService {o.name} may scale to zero in Standard mode with no HTTPScaledObject to wake it")


@rule("http-add-on-bypassed")
def http_add_on_bypassed(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """The KEDA HTTP add-on scales on the requests its interceptor forwards: callers that reach the predictor pods
    directly are invisible to it, and it may scale a busy workload to zero. Only the interceptor's namespace may
    reach them (the project's own namespace calls through the wake Service)."""
    pods = predictor_pods(objects)
    for scaled in objects.of("HTTPScaledObject"):
        isvc = pods.get((scaled.namespace, str(scaled.at("spec", "scaleTargetRef", "name"))))
        if isvc is None:
            continue
        for policy in objects.selecting("NetworkPolicy", isvc):
            for i, r in enumerate(policy.items("spec", "ingress")):
                for peer in r.get("from", []):
                    if isinstance(peer, dict) and peer_namespace(peer) == isvc.namespace:
                        yield Violation("http-add-on-bypassed", policy, ("spec", "ingress", i, "from"),
                                        f"NetworkPolicy {policy.name} lets namespace {isvc.namespace} reach "
                                        f"{isvc.name}'s pods past the KEDA HTTP interceptor, which then cannot count "
                                        "those requests")


@rule("gpu-rollout-surges")
def gpu_rollout_surges(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A surge adds whole GPU replicas per rollout: it stalls on a full quota or a ReadWriteOnce cache. A
    workload may choose a surge of one (counted in its project's peak); KServe's default of 25% is never chosen."""
    for o in objects.of("InferenceService"):
        if not in_standard_mode(o):
            continue
        limits = [c.get("resources", {}).get("limits", {}) for c in o.items("spec", "predictor", "containers")]
        if not any(GPU_RESOURCE.match(k) for lim in limits for k in lim):
            continue
        if o.at("spec", "predictor", "deploymentStrategy", "rollingUpdate", "maxSurge") not in (0, 1) \
                and o.at("spec", "predictor", "deploymentStrategy", "type") != "Recreate":
            yield Violation("gpu-rollout-surges", o, ("spec", "predictor"),
                            f"InferenceService {o.name} holds GPUs and its rollout may surge by more than the one "
                            "replica a workload may choose (KServe's default is 25%)")


@rule("startup-beyond-progress-deadline")
def startup_beyond_progress_deadline(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A start-up window that, with scheduling and the image pull, outlasts the progress deadline shows a starting
    workload as failed."""
    for o in objects.of("InferenceService"):
        deadline = progress_deadline(o)
        for i, c in enumerate(o.items("spec", "predictor", "containers")):
            window = startup_window(c.get("startupProbe"))
            if window is not None:
                if window + PULL_ALLOWANCE_SECONDS > deadline:
                    yield Violation("startup-beyond-progress-deadline", o,
                                    ("spec", "predictor", "containers", i, "startupProbe"),
                                    f"InferenceService {o.name} may take {window}s to start, and its progress deadline "
                                    f"of {deadline}s also covers scheduling and the image pull ({PULL_ALLOWANCE_SECONDS}s)")


@rule("wake-beyond-request-timeout")
def wake_beyond_request_timeout(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """Knative's activator holds the request that wakes a revision from zero, and the wait counts against the
    revision's request timeout (300s by default): a cold start longer than it answers the waking request 504."""
    for o in objects.of("InferenceService"):
        if in_standard_mode(o) or o.at("spec", "predictor", "minReplicas") not in (0, None):
            continue
        deadline = progress_deadline(o)
        timeout = o.at("spec", "predictor", "timeout")
        if not isinstance(timeout, int) or timeout < deadline:
            yield Violation("wake-beyond-request-timeout", o, ("spec", "predictor"),
                            f"InferenceService {o.name} scales to zero in Knative mode and may take {deadline}s to "
                            f"start, but a waking request times out after {timeout or 300}s")


@rule("knative-init-container-refused")
def knative_init_container_refused(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """From storageUris KServe writes its storage initializer into the Knative Service, which Knative refuses
    unless the cluster enables kubernetes.podspec-init-containers (off by default); from a STORAGE_URI variable
    KServe's pod webhook injects it into each pod instead."""
    for o in objects.of("InferenceService"):
        if not in_standard_mode(o) and o.items("spec", "predictor", "storageUris"):
            yield Violation("knative-init-container-refused", o, ("spec", "predictor", "storageUris"),
                            f"InferenceService {o.name} lists storageUris in Knative mode: its Knative Service gets an "
                            "init container, which Knative refuses without kubernetes.podspec-init-containers")


@rule("knative-data-path-blocked")
def knative_data_path_blocked(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """In Knative mode requests reach the queue-proxy, not the NIM port."""
    for isvc in (o for o in objects.of("InferenceService") if not in_standard_mode(o)):
        mine = objects.selecting("NetworkPolicy", isvc)
        ports = {port.get("port") for p in mine for r in p.items("spec", "ingress") for port in r.get("ports", [])}
        if mine and KNATIVE_QUEUE_PORT not in ports:
            yield Violation("knative-data-path-blocked", mine[0], ("spec", "ingress"),
                            f"NetworkPolicy {mine[0].name} blocks Knative's queue-proxy port {KNATIVE_QUEUE_PORT} of {isvc.name}")


def _wave(o: Obj) -> int | None:
    found = o.mapping("metadata", "annotations").get("argocd.argoproj.io/sync-wave", "0")
    try:
        return int(found)
    except (TypeError, ValueError):
        return None


@rule("job-not-ordered-or-reappliable")
def job_not_ordered(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A warm-up Job must finish before the server starts and run again only when what it caches changes: a
    plain Sync-phase Job (a hook runs on every sync) in a sync wave before the InferenceService's, with its
    claim in its own wave (a WaitForFirstConsumer claim stays Pending until the Job's pod mounts it), a deadline,
    no TTL (Argo CD would recreate a deleted Job), and in out/<env>/prepare/ for appliers that read no waves."""
    claims = {(o.namespace, o.name): o for o in objects.of("PersistentVolumeClaim")}
    for job in objects.of("Job"):
        annotations = job.mapping("metadata", "annotations")
        mounted = [claims.get((job.namespace, str(v.get("persistentVolumeClaim", {}).get("claimName"))))
                   for v in job.items("spec", "template", "spec", "volumes") if isinstance(v, dict)]
        wave = _wave(job)
        problems = []
        if "argocd.argoproj.io/hook" in annotations:
            problems.append("is an Argo CD hook, which runs again on every sync")
        if wave is None or wave >= 0:
            problems.append("is not in a sync wave before the InferenceService's (0)")
        problems += [f"mounts claim {c.name} from wave {_wave(c)}, not its own" for c in mounted if c and _wave(c) != wave]
        if not isinstance(job.at("spec", "activeDeadlineSeconds"), int):
            problems.append("has no activeDeadlineSeconds, so a stuck download holds the sync forever")
        if job.at("spec", "ttlSecondsAfterFinished") is not None:
            problems.append("has a ttlSecondsAfterFinished, after which Argo CD creates it again")
        if not job.file.startswith("prepare/"):
            problems.append("is not in out/<env>/prepare/, which Flux and kubectl apply before serve/")
        if problems:
            yield Violation("job-not-ordered-or-reappliable", job, ("metadata",),
                            f"Job {job.name} " + "; ".join(problems))


@rule("scrape-port-not-in-pod")
def scrape_port_not_in_pod(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """Prometheus scrapes a PodMonitor's endpoint by the name the port has in the running pod: the predictor's
    own names in Standard mode, Knative's in Knative mode (it renames the serving port to user-port)."""
    pods = {(o.namespace, o.name): o for o in objects.of("InferenceService")}
    for monitor in objects.of("PodMonitor"):
        isvc = pods.get((monitor.namespace, str(monitor.mapping("spec", "selector", "matchLabels").get(ISVC_POD_LABEL))))
        if isvc is None:
            continue
        running = {str(p.get("name")) for c in isvc.items("spec", "predictor", "containers") for p in c.get("ports", [])} \
            if in_standard_mode(isvc) else KNATIVE_POD_PORTS
        for i, endpoint in enumerate(monitor.items("spec", "podMetricsEndpoints")):
            if endpoint.get("port") not in running:
                yield Violation("scrape-port-not-in-pod", monitor, ("spec", "podMetricsEndpoints", i, "port"),
                                f"PodMonitor {monitor.name} scrapes port '{endpoint.get('port')}', which the pods of "
                                f"{isvc.name} do not have ({', '.join(sorted(running))}): no series exist")


@rule("scrape-blocked-by-mesh")
def scrape_blocked_by_mesh(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """Prometheus outside the mesh scrapes in plain text: it has no peer namespace or principal, so an ALLOW rule
    on those never matches it, and a STRICT mesh refuses it unless the scraped port is PERMISSIVE."""
    labels = namespaces(objects)
    pods = {(o.namespace, o.name): o for o in objects.of("InferenceService")}
    for monitor in objects.of("PodMonitor"):
        isvc = pods.get((monitor.namespace, str(monitor.mapping("spec", "selector", "matchLabels").get(ISVC_POD_LABEL))))
        ns = labels.get(monitor.namespace or "", {})
        if isvc is None or not (ns.get("istio-injection") == "enabled" or ns.get("istio.io/rev")
                                or ns.get("istio.io/dataplane-mode") == "ambient"):
            continue
        ports = {p.get("name"): p.get("containerPort") for c in isvc.items("spec", "predictor", "containers")
                 for p in c.get("ports", [])}
        if not in_standard_mode(isvc):   # Knative renames the serving port, keeping its number
            ports = {KNATIVE_USER_PORT: next(iter(ports.values()), None)}
        ambient = ns.get("istio.io/dataplane-mode") == "ambient"
        for endpoint in monitor.items("spec", "podMetricsEndpoints"):
            number = ports.get(endpoint.get("port"))
            if number is None:
                continue                 # no such port: scrape-port-not-in-pod says so
            if ambient and facts.scrape_in_mesh:
                # the scrape carries Prometheus' identity: ztunnel's L4 policy must admit it on the port
                for policy in objects.selecting("AuthorizationPolicy", isvc):
                    if not _has_l7(policy) and not any(_admits_scrape(r, str(number), facts.monitoring_namespace)
                                                       for r in policy.items("spec", "rules")):
                        yield Violation("scrape-blocked-by-mesh", policy, ("spec", "rules"),
                                        f"AuthorizationPolicy {policy.name} does not admit Prometheus' identity (namespace "
                                        f"{facts.monitoring_namespace}) to port {number}")
                continue
            peers = objects.selecting("PeerAuthentication", isvc)
            if not any(o.mapping("spec", "portLevelMtls").get(str(number), {}).get("mode") == "PERMISSIVE" for o in peers):
                yield Violation("scrape-blocked-by-mesh", monitor, ("spec", "podMetricsEndpoints"),
                                f"PodMonitor {monitor.name} scrapes port {number} of meshed pods in plain text, "
                                "and no PeerAuthentication makes that port PERMISSIVE")
            for policy in objects.selecting("AuthorizationPolicy", isvc):
                rules = policy.items("spec", "rules")
                if ambient and not _has_l7(policy):     # ztunnel's L4 policy: the port, open to any caller
                    if not any(_admits_scrape(r, str(number), None) for r in rules):
                        yield Violation("scrape-blocked-by-mesh", policy, ("spec", "rules"),
                                        f"AuthorizationPolicy {policy.name} admits no plain-text connection to port {number}")
                    continue
                if not any(_allows_plain_text_get(r, endpoint.get("path", "/metrics")) for r in rules):
                    yield Violation("scrape-blocked-by-mesh", policy, ("spec", "rules"),
                                    f"AuthorizationPolicy {policy.name} admits no plain-text GET of {endpoint.get('path')}: "
                                    "source namespaces and principals need mTLS")


L7_SOURCE_KEYS = {"requestPrincipals", "notRequestPrincipals"}
L7_OPERATION_KEYS = {"paths", "notPaths", "methods", "notMethods", "hosts", "notHosts"}


def _has_l7(policy: Obj) -> bool:
    """An AuthorizationPolicy that reads requests (tokens, paths, methods), which only a waypoint or sidecar can."""
    for r in policy.items("spec", "rules"):
        if not isinstance(r, dict):
            continue
        if any(set(f.get("source", {})) & L7_SOURCE_KEYS for f in r.get("from", [])) or \
                any(set(t.get("operation", {})) & L7_OPERATION_KEYS for t in r.get("to", [])) or \
                any(str(w.get("key", "")).startswith("request.") for w in r.get("when", [])):
            return True
    return False


def _admits_scrape(r: dict[str, Any], port: str, namespace: str | None) -> bool:
    """An L4 rule that admits connections to the port: from an identity of the namespace (a principal in it, or
    the namespace itself), or, namespace None, from any caller (no source at all)."""
    ports = [p for to in r.get("to", []) for p in to.get("operation", {}).get("ports", [])]
    if ports and port not in ports:
        return False
    sources = [f.get("source", {}) for f in r.get("from", [])]
    if namespace is None:
        return not sources
    return any(namespace in s.get("namespaces", []) or any(f"/ns/{namespace}/sa/" in p for p in s.get("principals", []))
               for s in sources)


def _allows_plain_text_get(r: dict[str, Any], path: str) -> bool:
    needs_identity = any(key in src.get("source", {}) for src in r.get("from", [])
                         for key in ("namespaces", "principals", "requestPrincipals"))
    paths = [p for to in r.get("to", []) for p in to.get("operation", {}).get("paths", [])]
    return not needs_identity and not r.get("when") and (not r.get("to") or path in paths)


@rule("namespace-without-pod-security")
def namespace_without_pod_security(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """Pod Security Admission applies only the levels a Namespace's labels name."""
    for o in objects.of("Namespace"):
        labels = o.mapping("metadata", "labels")
        for mode in ("enforce", "warn", "audit"):
            if f"pod-security.kubernetes.io/{mode}" not in labels:
                yield Violation("namespace-without-pod-security", o, ("metadata", "labels"),
                                f"Namespace {o.name} has no pod-security.kubernetes.io/{mode} level")


@rule("privileged-without-reason")
def privileged_without_reason(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """Pod Security privileged is admitted only where Istio's istio-init container needs it: a namespace with
    sidecar injection (the environment states the choice, spec.mesh.podSecurity); anywhere else it admits any pod."""
    for o in objects.of("Namespace"):
        labels = o.mapping("metadata", "labels")
        injected = labels.get("istio-injection") == "enabled" or bool(labels.get("istio.io/rev"))
        if labels.get("pod-security.kubernetes.io/enforce") == "privileged" and not injected:
            yield Violation("privileged-without-reason", o, ("metadata", "labels"),
                            f"Namespace {o.name} enforces Pod Security privileged without sidecar injection, the only "
                            "reason nimgen admits privileged pods")


@rule("deployment-mode-unknown-to-kserve")
def deployment_mode_unknown(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """KServe 0.16 renamed the modes and 0.15.1 added autoscalerClass none; an older KServe silently falls back
    to its default mode for a name it does not know."""
    version = tuple(int(x) for x in facts.kserve_version.split(".")[:2])
    for o in objects.of("InferenceService"):
        annotations = o.mapping("metadata", "annotations")
        mode = annotations.get("serving.kserve.io/deploymentMode")
        known = {"Standard", "Knative", "RawDeployment", "Serverless"} if version >= (0, 16) else {"RawDeployment", "Serverless"}
        if mode is not None and mode not in known:
            yield Violation("deployment-mode-unknown-to-kserve", o, ("metadata", "annotations"),
                            f"InferenceService {o.name}: KServe {facts.kserve_version} does not know deploymentMode {mode}")
        if annotations.get("serving.kserve.io/autoscalerClass") == "none" and version < (0, 16):
            yield Violation("deployment-mode-unknown-to-kserve", o, ("metadata", "annotations"),
                            f"InferenceService {o.name}: autoscalerClass none needs KServe 0.15.1 or later")


@rule("queue-limit-below-quota")
def queue_limit_below_quota(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    for o in objects.of("Queue"):
        for resource, r in o.mapping("spec", "resources").items():
            quota, limit = r.get("quota", -1), r.get("limit", -1)
            if limit != -1 and quota != -1 and limit < quota:
                yield Violation("queue-limit-below-quota", o, ("spec", "resources", resource, "limit"),
                                f"Queue {o.name}: {resource} limit {limit} is below its quota {quota}")


@rule("queue-parent-missing")
def queue_parent_missing(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """KAI drops a queue whose parent does not exist, with all its children, from scheduling ("Found orphan queue
    %s with missing parent %s, deleting it and all children", KAI-Scheduler pkg/scheduler/cache/cluster_info/
    queue.go), and schedules pods only in leaf queues (pkg/scheduler/actions/utils/input_jobs.go)."""
    queues = kai_queues(objects)
    parents = {str(o.at("spec", "parentQueue")) for o in queues.values() if o.at("spec", "parentQueue")}
    for o in queues.values():
        parent = o.at("spec", "parentQueue")
        if parent and str(parent) not in queues:
            yield Violation("queue-parent-missing", o, ("spec", "parentQueue"),
                            f"Queue {o.name}: its parent queue {parent} is no Queue of environment {facts.name}, so KAI "
                            "drops it and all its children from scheduling")
    for o in objects.of("InferenceService") + objects.of("Job"):
        for path, labels in pod_labels(o):
            queue = labels.get(KAI_QUEUE_LABEL)
            if isinstance(queue, str) and queue in parents:
                yield Violation("queue-parent-missing", o, path,
                                f"{o.kind} {o.name} puts its pods in queue {queue}, a parent of other queues: KAI "
                                "schedules pods only in leaf queues")


@rule("gpu-share-with-device-request")
def gpu_share_with_device_request(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A KAI GPU share is one annotation, gpu-fraction or gpu-memory, and no container or init container of the pod
    requests or limits nvidia.com/gpu: KAI's admission webhook refuses anything else ("cannot have both GPU fraction
    request and whole GPU resource request/limit", KAI-Scheduler pkg/binder/plugins/gpusharing/gpu-request/
    gpu_request_validator.go). The share goes to the container gpu-fraction-container-name names, else to
    containers[0], which may be Istio's proxy."""
    for isvc in objects.of("InferenceService"):
        annotations = isvc.mapping("spec", "predictor", "annotations")
        shares = [a for a in GPU_SHARES if a in annotations]
        if not shares:
            continue
        if len(shares) > 1:
            yield Violation("gpu-share-with-device-request", isvc, ("spec", "predictor", "annotations"),
                            f"InferenceService {isvc.name} asks for both gpu-fraction and gpu-memory: KAI's admission "
                            "webhook refuses its pods")
        names = []
        for group in ("initContainers", "containers"):
            for i, c in enumerate(isvc.items("spec", "predictor", group)):
                if not isinstance(c, dict):
                    continue
                names.append(str(c.get("name")))
                asked = asked_for(c).get(WHOLE_GPU)
                if asked:
                    yield Violation("gpu-share-with-device-request", isvc, ("spec", "predictor", group, i, "resources"),
                                    f"InferenceService {isvc.name} shares a GPU ({shares[0]}), and its container "
                                    f"{c.get('name')} {' and '.join(asked)} {WHOLE_GPU} too: KAI's admission webhook "
                                    "refuses its pods")
        named = annotations.get(GPU_SHARE_CONTAINER)
        if named not in names:
            yield Violation("gpu-share-with-device-request", isvc, ("spec", "predictor", "annotations"),
                            f"InferenceService {isvc.name} shares a GPU ({shares[0]}) "
                            + (f"without {GPU_SHARE_CONTAINER}: KAI gives the share to the pod's first container, "
                               "which may be Istio's proxy" if named is None else
                               f"for container {named}, which its pods do not have ({', '.join(names)})"))


def _bounds_vendor(counted: set[str], resource: str) -> bool:
    """Whether a quota counts any resource of this one's vendor (nvidia.com/...)."""
    vendor = resource.split("/", 1)[0]
    return any(k.startswith(f"requests.{vendor}/") for k in counted)


@rule("quota-misses-requested-resource")
def quota_misses_requested_resource(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A ResourceQuota counts an extended resource (a name with a '/': nvidia.com/gpu, nvidia.com/mig-3g.40gb)
    only when its spec.hard names requests.<resource> (kubernetes.io docs policy/resource-quotas): a namespace
    whose quota bounds its GPUs would otherwise hold any number of MIG slices. A quota that bounds nothing of a
    resource's vendor (a project with no GPU limit) leaves them unbounded on purpose."""
    quotas: dict[str | None, list[Obj]] = {}
    for q in objects.of("ResourceQuota"):
        quotas.setdefault(q.namespace, []).append(q)
    for o in objects.of("InferenceService") + objects.of("Job"):
        mine = quotas.get(o.namespace, [])
        if not mine:
            continue
        counted = {str(k) for q in mine for k in q.mapping("spec", "hard")}
        for base, pod in pod_specs(o):
            for group in ("containers", "initContainers"):
                for i, c in enumerate(pod.get(group) or []):
                    for resource in sorted(r for r in asked_for(c) if "/" in r and f"requests.{r}" not in counted
                                           and _bounds_vendor(counted, r)):
                        yield Violation("quota-misses-requested-resource", o, (*base, group, i, "resources"),
                                        f"{o.kind} {o.name} requests {resource}, which ResourceQuota {mine[0].name} of "
                                        f"namespace {o.namespace} does not count (no requests.{resource}): the "
                                        "namespace may hold any number of them")


@rule("shared-claim-not-read-write-many")
def shared_claim_not_read_write_many(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """Replicas of one InferenceService, and a rollout's new pods, may land on several nodes: a claim they all
    mount must be ReadWriteMany (ReadOnlyMany when every mount is read-only); a ReadWriteOnce volume attaches to
    one node, and the other pods stay Pending (kubernetes.io docs storage/persistent-volumes#access-modes)."""
    claims = {(o.namespace, o.name): o for o in objects.of("PersistentVolumeClaim")}
    for isvc in objects.of("InferenceService"):
        predictor = isvc.mapping("spec", "predictor")
        if not isinstance(predictor.get("maxReplicas"), int):
            continue
        # a rollout's new pods mount the claim beside the old: Knative starts the new revision first; a surge too
        surge = isvc.at("spec", "predictor", "deploymentStrategy", "rollingUpdate", "maxSurge") \
            if in_standard_mode(isvc) else 1
        pods = predictor["maxReplicas"] + (surge if isinstance(surge, int) else 1)
        if pods < 2:
            continue
        for volume in isvc.items("spec", "predictor", "volumes"):
            source = volume.get("persistentVolumeClaim") if isinstance(volume, dict) else None
            if not isinstance(source, dict):
                continue
            claim = claims.get((isvc.namespace, str(source.get("claimName"))))
            if claim is None:
                continue                 # a claim nimgen does not render: its mode is the cluster's
            modes = set(claim.items("spec", "accessModes"))
            shared = "ReadWriteMany" in modes or ("ReadOnlyMany" in modes and source.get("readOnly") is True)
            if not shared:
                yield Violation("shared-claim-not-read-write-many", claim, ("spec", "accessModes"),
                                f"PersistentVolumeClaim {claim.name} is {', '.join(sorted(modes)) or 'without an access mode'}"
                                f", but up to {pods} pods of {isvc.name} mount it (maxReplicas "
                                f"{predictor['maxReplicas']}, and a rollout's new ones)")


@rule("uri-cache-read-only")
def uri_cache_read_only(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """KServe mounts a storage URI's download read-only into the serving container unless the InferenceService
    says storage.kserve.io/readonly: "false"; NIM writes into NIM_CACHE_PATH what the download lacks."""
    for isvc in objects.of("InferenceService"):
        mounts = storage_mounts(isvc)
        caches = {e.get("value") for c in isvc.items("spec", "predictor", "containers") for e in c.get("env", [])
                  if isinstance(e, dict) and e.get("name") == "NIM_CACHE_PATH"}
        read_only = isvc.mapping("metadata", "annotations").get("storage.kserve.io/readonly", "true") != "false"
        if read_only and any(str(cache).startswith(m.rstrip("/")) for cache in caches for m in mounts):
            yield Violation("uri-cache-read-only", isvc, ("metadata", "annotations"),
                            f"InferenceService {isvc.name} keeps NIM's cache in the storage initializer's download, "
                            "which KServe mounts read-only without storage.kserve.io/readonly: \"false\"")


@rule("lora-source-without-volume")
def lora_source_without_volume(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """NIM reads LoRA adapters from the directory NIM_PEFT_SOURCE names inside its container: without a volume
    there it finds the image's empty path and serves no adapter. nimgen mounts the adapters' claim at
    /opt/nim/loras, or lists them in storageUris for KServe's storage initializer to download to /mnt/loras. A
    source that is no absolute path (a URL: NeMo's entity store) is read over the network."""
    for o in objects.of("InferenceService") + objects.of("Job"):
        downloads = storage_mounts(o) if o.kind == "InferenceService" else set()
        for base, pod in pod_specs(o):
            for i, c in enumerate(pod.get("containers") or []):
                if not isinstance(c, dict):
                    continue
                mounts = {str(m.get("mountPath")) for m in c.get("volumeMounts") or [] if isinstance(m, dict)}
                for j, e in enumerate(c.get("env") or []):
                    source = e.get("value") if isinstance(e, dict) and e.get("name") == "NIM_PEFT_SOURCE" else None
                    if not isinstance(source, str) or not source.startswith("/"):
                        continue
                    if not any(under(source, m) for m in mounts | downloads):
                        yield Violation("lora-source-without-volume", o, (*base, "containers", i, "env", j),
                                        f"{o.kind} {o.name}: container {c.get('name')} reads LoRA adapters from "
                                        f"{source}, where no volume is mounted and no storage URI is downloaded: NIM "
                                        "would serve no adapter")


WARMUP_COMMAND = "download-to-cache"


@rule("catalog-image-without-pull-secret")
def catalog_image_without_pull_secret(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """A catalog NIM image (nimgen.dev/model) is licensed: nvcr.io, and the environment's mirror of it, serve it
    only with credentials, so its pods need an image pull Secret, the server's and the warm-up Job's alike (the
    Job runs the same image's download-to-cache). Without one the pods stay in ImagePullBackOff."""
    for o in objects.of("InferenceService") + objects.of("Job"):
        for base, pod in pod_specs(o):
            catalog = "nimgen.dev/model" in o.mapping("metadata", "annotations") if o.kind == "InferenceService" else \
                any(isinstance(c, dict) and isinstance(c.get("command"), list) and c["command"][:1] == [WARMUP_COMMAND]
                    for c in pod.get("containers") or [])
            if catalog and not pod.get("imagePullSecrets"):
                yield Violation("catalog-image-without-pull-secret", o, base,
                                f"{o.kind} {o.name} pulls a licensed NIM image "
                                + ("(the warm-up's download-to-cache) " if o.kind == "Job" else "")
                                + "without imagePullSecrets: its pods would stay in ImagePullBackOff")


@rule("pod-security-restricted")
def pod_security_restricted(objects: Objects, facts: EnvironmentFacts) -> Iterator[Violation]:
    """Every pod nimgen writes meets Pod Security "restricted" (kubernetes.io pod-security-standards)."""
    for o in objects.of("InferenceService") + objects.of("Job"):
        for base, pod in pod_specs(o):
            pod_ctx = pod.get("securityContext", {})
            problems = []
            if pod_ctx.get("runAsNonRoot") is not True or pod_ctx.get("runAsUser") == 0:
                problems.append("runAsNonRoot is not true")
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                sc = c.get("securityContext", {})
                if (sc.get("seccompProfile") or pod_ctx.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
                    problems.append(f"container {c.get('name')} has no RuntimeDefault seccomp profile")
                if sc.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"container {c.get('name')} allows privilege escalation")
                caps = sc.get("capabilities", {})
                if "ALL" not in caps.get("drop", []) or set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
                    problems.append(f"container {c.get('name')} does not drop all capabilities")
            for v in pod.get("volumes", []):
                kinds = set(v) - {"name"}
                if kinds - RESTRICTED_VOLUMES:
                    problems.append(f"volume {v.get('name')} is {', '.join(sorted(kinds))}")
            if problems:
                yield Violation("pod-security-restricted", o, base,
                                f"{o.kind} {o.name} is outside Pod Security restricted: {'; '.join(problems)}")


# ----------------------------------------------------------------------------------------------- running them


def objects_of(files: dict[str, tuple[str, list[dict[str, Any]]]]) -> list[Obj]:
    """files: relative path -> (text, objects)."""
    return [Obj(rel, i, body) for rel, (_, objs) in sorted(files.items()) for i, body in enumerate(objs)]


def check(files: dict[str, tuple[str, list[dict[str, Any]]]], facts: EnvironmentFacts, shown_root: str,
          only: set[str] | None = None) -> list[Diagnostic]:
    """Every rule over all objects; violations located in the rendered file (only those in `only`, if given)."""
    objects = Objects(objects_of(files))
    problems = []
    for name, check_rule in RULES.items():
        for v in check_rule(objects, facts):
            if only is not None and v.obj.file not in only:
                continue
            text = files[v.obj.file][0]
            line, column = locate(text, v.obj.index, v.path, f"{shown_root}/{v.obj.file}")
            problems.append(Diagnostic(f"{shown_root}/{v.obj.file}", line, column, json_path(v.path),
                                       f"[{name}] {v.message}",
                                       f"from {sources_in(text)}; a cluster would not run this as intended: "
                                       "please report it as a nimgen bug"))
    return sorted(problems)

