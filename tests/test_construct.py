"""Construct renders decided model values and nothing else: tested on hand-built models, read for their
meaning on a cluster (who may call, which namespaces reach the pods, which objects exist)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from builders import SELECTOR, container, jwt, pdb, project, service, workload
from nimgen.construct import synthesize
from nimgen.model import (IdentityRule, ZtunnelGuard, ClaimRule, ClusterLocal, EnvVar, Fixed, Hpa, IngressPolicy, IngressRule, NamespacePeer, Keda, KedaHttp, Pace,
                             Knative, Meta, PeerPolicy, Public, ScaleTarget, SecretKeyRef, WakeService, Waypoint,
                          ClusterQueues, ServiceTarget, TokenlessRule)


def objects(w) -> dict[tuple[str, str], dict]:
    (found,) = synthesize([w])
    return {(o["kind"], o["metadata"]["name"]): o for o in found}


def kinds(w) -> list[str]:
    return sorted(kind for kind, _ in objects(w))


def test_every_object_carries_the_chart_namespace_and_labels():
    for obj in objects(workload(access=jwt(), disruption=pdb())).values():
        assert obj["metadata"]["namespace"] == "ns"
        assert obj["metadata"]["labels"]["team"] == "t"
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "nimgen"


# -- which objects exist


def test_a_fixed_cluster_local_workload_is_an_inference_service_and_its_network_policy():
    assert kinds(workload()) == ["InferenceService", "NetworkPolicy", "PodMonitor"]


def test_a_disruption_budget_exists_only_when_the_model_has_one():
    assert "PodDisruptionBudget" not in kinds(workload(scaling=Fixed(1, 1), disruption=None))
    rendered = objects(workload(scaling=Fixed(3, 3), disruption=pdb()))
    budget = rendered[("PodDisruptionBudget", "w")]["spec"]
    assert budget == {"maxUnavailable": 1, "selector": {"matchLabels": dict(SELECTOR)}}


def test_each_scaling_backend_renders_its_own_autoscaler():
    target = ScaleTarget("apps/v1", "Deployment", "w-predictor")
    pace = Pace(1, 420, 600)
    hpa = Hpa(Meta("w"), target, 1, 3, "concurrency", 8.0, "num_requests_running", "8", pace)
    keda = Keda(Meta("w"), target, 1, 3, "latency", 500.0, 15, "http://prom:9090", "q(x)", "500", "Value", pace,
                fallback_replicas=None, fallback_failures=3)
    base = ["InferenceService", "NetworkPolicy", "PodMonitor"]
    assert kinds(workload(scaling=hpa)) == sorted(base + ["HorizontalPodAutoscaler"])
    assert kinds(workload(scaling=keda)) == sorted(base + ["ScaledObject"])
    assert kinds(workload(scaling=Knative(0, 3, "throughput", 20.0, "rps", 20, 300))) == base
    assert kinds(workload(scaling=keda_http())) == sorted(base + ["HTTPScaledObject", "Service"])
    scaled = objects(workload(scaling=keda))[("ScaledObject", "w")]["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w-predictor"}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (1, 3)
    # a latency is compared as a Value: desired = current x metric / target, not metric / target
    assert scaled["triggers"] == [{"type": "prometheus", "metricType": "Value", "metadata": {
        "serverAddress": "http://prom:9090", "query": "q(x)", "threshold": "500"}}]
    # a Value trigger gets no fallback (KEDA's webhook refuses one before 2.18); both add one replica per start window
    assert "fallback" not in scaled
    one_per_window = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 420}]}
    assert scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"] == one_per_window
    averaged = replace(keda, metric="concurrency", metric_type="AverageValue", fallback_replicas=1)
    assert objects(workload(scaling=averaged))[("ScaledObject", "w")]["spec"]["fallback"] == {
        "failureThreshold": 3, "replicas": 1, "behavior": "currentReplicasIfHigher"}
    autoscaler = objects(workload(scaling=hpa))[("HorizontalPodAutoscaler", "w")]["spec"]
    assert autoscaler["behavior"]["scaleUp"] == one_per_window
    assert autoscaler["behavior"]["scaleDown"] == {"stabilizationWindowSeconds": 600}
    assert autoscaler["scaleTargetRef"]["name"] == "w-predictor"
    assert autoscaler["metrics"][0]["pods"] == {"metric": {"name": "num_requests_running"},
                                                "target": {"type": "AverageValue", "averageValue": "8"}}


def keda_http() -> KedaHttp:
    return KedaHttp(Meta("w"), ScaleTarget("apps/v1", "Deployment", "w-predictor"), 0, 2, "concurrency", 4.0,
                    service="w-predictor", service_port=80, hosts=("w-wake.ns.svc.cluster.local", "w-wake"),
                    scaling_metric="concurrency", target_value=4, scaledown_period_seconds=900, condition_wait="1800s",
                    response_header="300s", wake=WakeService(Meta("w-wake"), "proxy.keda.svc.cluster.local", 8080, "w-wake.ns:8080"))


def test_scale_from_zero_through_the_http_add_on_routes_callers_to_its_interceptor():
    rendered = objects(workload(scaling=keda_http()))
    scaled = rendered[("HTTPScaledObject", "w")]["spec"]
    # the interceptor routes requests whose Host is one of these to the predictor Service on port 80
    assert scaled["hosts"] == ["w-wake.ns.svc.cluster.local", "w-wake"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w-predictor",
                                        "service": "w-predictor", "port": 80}
    assert scaled["replicas"] == {"min": 0, "max": 2} and scaled["scaledownPeriod"] == 900
    assert scaled["timeouts"]["conditionWait"] == "1800s"   # holds the first request through a cold start
    wake = rendered[("Service", "w-wake")]["spec"]
    assert (wake["type"], wake["externalName"]) == ("ExternalName", "proxy.keda.svc.cluster.local")


def test_a_model_value_without_a_construct_is_a_bug_not_silence():
    """mypy proves every variant of a union has its case; a value outside the union fails loudly at run time."""
    @dataclass(frozen=True)
    class Unknown:
        pass

    with pytest.raises(AssertionError):
        synthesize([workload(access=Unknown())])


# -- who may call


def policies(w) -> tuple[dict | None, dict | None]:
    rendered = objects(w)
    return rendered.get(("RequestAuthentication", "w-jwt")), rendered.get(("AuthorizationPolicy", "w-access"))


def test_without_token_access_there_are_no_mesh_policies():
    for access in (ClusterLocal(), Public()):
        assert policies(workload(access=access)) == (None, None)


def test_authenticated_callers_need_a_token_of_the_identity_provider():
    authn, authz = policies(workload(access=jwt()))
    assert authn["spec"] == {"selector": {"matchLabels": dict(SELECTOR)},
                             "jwtRules": [{"issuer": "https://id.example", "jwksUri": "https://id.example/jwks"}]}
    assert authz["spec"]["action"] == "ALLOW" and authz["spec"]["selector"] == {"matchLabels": dict(SELECTOR)}
    caller, scrape = authz["spec"]["rules"]
    assert caller == {"from": [{"source": {"requestPrincipals": ["*"]}}]}  # any valid token, no claim condition
    # a plain-text scrape has no peer identity, so the metrics path is open, except through the gateway
    assert scrape == {"from": [{"source": {"notNamespaces": ["istio-system"]}}],
                      "to": [{"operation": {"methods": ["GET"], "paths": ["/v1/metrics"]}}]}


GUARD = ZtunnelGuard(Meta("w-via-waypoint"), SELECTOR, (
    IdentityRule(principals=("cluster.local/ns/ns/sa/waypoint",)), IdentityRule(namespaces=("monitoring",), ports=(8000,)),
    IdentityRule(ports=(8000,))))


def test_in_ambient_mode_the_policies_bind_to_the_service_the_waypoint_serves():
    authn, authz = policies(workload(access=jwt(binding=ServiceTarget("w-predictor", GUARD))))
    for policy in (authn, authz):
        assert "selector" not in policy["spec"]
        assert policy["spec"]["targetRefs"] == [{"group": "", "kind": "Service", "name": "w-predictor"}]


def test_in_ambient_mode_ztunnel_admits_identities_and_ports_with_l4_attributes_only():
    guard = objects(workload(access=jwt(binding=ServiceTarget("w-predictor", GUARD))))[("AuthorizationPolicy", "w-via-waypoint")]
    assert guard["spec"] == {"selector": {"matchLabels": dict(SELECTOR)}, "action": "ALLOW", "rules": [
        {"from": [{"source": {"principals": ["cluster.local/ns/ns/sa/waypoint"]}}]},
        {"from": [{"source": {"namespaces": ["monitoring"]}}], "to": [{"operation": {"ports": ["8000"]}}]},
        {"to": [{"operation": {"ports": ["8000"]}}]}]}       # no source: any caller, plain text included


def test_knative_system_probes_pass_without_a_token_only_on_their_paths():
    probes = TokenlessRule(paths=("/healthz", "/metrics"), from_namespaces=("knative-serving",))
    _, authz = policies(workload(access=jwt(tokenless=jwt().tokenless + (probes,))))
    assert authz["spec"]["rules"][-1] == {"from": [{"source": {"namespaces": ["knative-serving"]}}],
                                          "to": [{"operation": {"paths": ["/healthz", "/metrics"]}}]}


def test_plain_text_is_accepted_on_the_scraped_ports_of_meshed_pods():
    peer = PeerPolicy(Meta("w-plaintext-ports"), SELECTOR, (8000, 8012))
    spec = objects(workload(peer=peer))[("PeerAuthentication", "w-plaintext-ports")]["spec"]
    # port-level modes need a selector (Istio's CEL rule); the ports are the container's, not the Service's
    assert spec == {"selector": {"matchLabels": dict(SELECTOR)},
                    "portLevelMtls": {"8000": {"mode": "PERMISSIVE"}, "8012": {"mode": "PERMISSIVE"}}}


def test_group_access_requires_the_claim_value_as_well_as_a_token():
    _, authz = policies(workload(access=jwt(ClaimRule("groups", ("ml", "ops")))))
    caller = authz["spec"]["rules"][0]
    assert caller["from"] == [{"source": {"requestPrincipals": ["*"]}}]
    assert caller["when"] == [{"key": "request.auth.claims[groups]", "values": ["ml", "ops"]}]


# -- which namespaces may reach the pods


def test_network_policy_admits_exactly_the_decided_namespaces_on_their_ports():
    policy = IngressPolicy(Meta("w-ingress"), SELECTOR, (IngressRule((NamespacePeer("monitoring"),), (8000,)),
                                                         IngressRule((NamespacePeer("ns"), NamespacePeer("istio-system")), (8012, 8022))))
    spec = objects(workload(ingress=policy))[("NetworkPolicy", "w-ingress")]["spec"]
    assert spec["podSelector"] == {"matchLabels": dict(SELECTOR)} and spec["policyTypes"] == ["Ingress"]
    admitted = [({peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in rule["from"]},
                 [port["port"] for port in rule["ports"]]) for rule in spec["ingress"]]
    assert admitted == [({"monitoring"}, [8000]), ({"ns", "istio-system"}, [8012, 8022])]


# -- the predictor


def test_secrets_are_referenced_never_inlined():
    env = (EnvVar("NIM_CACHE_PATH", "/opt/nim/.cache"), EnvVar("NGC_API_KEY", SecretKeyRef("ngc", "KEY")))
    w = workload(service=service(container=container(env=env)))
    (nim,) = objects(w)[("InferenceService", "w")]["spec"]["predictor"]["containers"]
    assert nim["env"] == [{"name": "NIM_CACHE_PATH", "value": "/opt/nim/.cache"},
                                {"name": "NGC_API_KEY", "valueFrom": {"secretKeyRef": {"name": "ngc", "key": "KEY"}}}]


def test_knative_scaling_is_carried_by_the_inference_service():
    predictor = objects(workload(service=service(min_replicas=0, max_replicas=3, scale_metric="rps", scale_target=20)))[
        ("InferenceService", "w")]["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"], predictor["scaleMetric"], predictor["scaleTarget"]) == (0, 3, "rps", 20)
    assert "scaleMetric" not in objects(workload())[("InferenceService", "w")]["spec"]["predictor"]


# -- projects and queues


def test_project_namespace_is_cluster_scoped_and_guard_rails_are_namespaced():
    project_objects, queue_objects = synthesize([project(), ClusterQueues((project().queue,))])
    by_kind = {o["kind"]: o for o in project_objects}
    assert "namespace" not in by_kind["Namespace"]["metadata"] and by_kind["Namespace"]["metadata"]["name"] == "ns"
    for kind in ("ResourceQuota", "LimitRange", "NetworkPolicy"):
        assert by_kind[kind]["metadata"]["namespace"] == "ns"
    assert by_kind["NetworkPolicy"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    (queue,) = queue_objects
    assert "namespace" not in queue["metadata"]
    assert queue["spec"]["resources"]["gpu"] == {"quota": 4, "limit": 6, "overQuotaWeight": 1}


def test_pod_security_context_renders_the_seccomp_profile():
    predictor = objects(workload())[("InferenceService", "w")]["spec"]["predictor"]
    assert predictor["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_scrape_is_a_pod_monitor_that_labels_series_with_the_workload():
    monitor = objects(workload())[("PodMonitor", "w")]["spec"]
    assert monitor["selector"] == {"matchLabels": dict(SELECTOR)}
    (endpoint,) = monitor["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http1", "/v1/metrics")
    # Prometheus' pod discovery exposes the label as a meta label with _ for every non-alphanumeric
    assert endpoint["relabelings"] == [{"sourceLabels": ["__meta_kubernetes_pod_label_serving_kserve_io_inferenceservice"],
                                        "targetLabel": "inferenceservice", "action": "replace"}]


def test_gpu_rollouts_replace_pods_instead_of_surging():
    predictor = objects(workload())[("InferenceService", "w")]["spec"]["predictor"]
    assert predictor["deploymentStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    knative = objects(workload(service=service(rollout=None)))[("InferenceService", "w")]["spec"]["predictor"]
    assert "deploymentStrategy" not in knative


def test_pod_labels_annotations_and_service_account_reach_the_predictor():
    isvc = service(pod_labels=(("kai.scheduler/queue", "p"),), pod_annotations=(("sidecar.istio.io/nativeSidecar", "true"),),
                   service_account="model-reader")
    predictor = objects(workload(service=isvc))[("InferenceService", "w")]["spec"]["predictor"]
    assert predictor["labels"] == {"kai.scheduler/queue": "p"}
    assert predictor["annotations"] == {"sidecar.istio.io/nativeSidecar": "true"}
    assert predictor["serviceAccountName"] == "model-reader"


def test_an_ambient_project_gets_its_waypoint():
    pods = (("gateway.networking.k8s.io/gateway-name", "waypoint"),)
    ingress = IngressPolicy(Meta("waypoint-ingress"), pods, (IngressRule((NamespacePeer("ns"),), (15008,)),))
    (found,) = synthesize([project(waypoint=Waypoint(Meta("waypoint", (("istio.io/waypoint-for", "service"),)),
                                                     "istio-waypoint", "mesh", 15008, "HBONE", ingress))])
    (gateway,) = [o for o in found if o["kind"] == "Gateway"]
    assert gateway["spec"] == {"gatewayClassName": "istio-waypoint", "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}]}
    assert gateway["metadata"]["labels"]["istio.io/waypoint-for"] == "service"
    # the namespace's default-deny policy isolates the waypoint's pods too: its own policy lets callers in
    (policy,) = [o for o in found if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "waypoint-ingress"]
    assert policy["spec"]["podSelector"] == {"matchLabels": dict(pods)}
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": 15008, "protocol": "TCP"}]


def test_an_object_made_by_direct_jsii_calls_is_the_one_cdk8s_binding_makes():
    import cdk8s
    from nimgen.construct.base import api_object
    from nimgen.model import Meta
    app = cdk8s.App()
    chart = cdk8s.Chart(app, "c", namespace="ns", labels={"team": "a"}, disable_resource_name_hashes=True)
    api_object(chart, "v1", "ConfigMap", Meta("ours", (("l", "1"),), (("a", "2"),)), data={"k": "v"}, immutable=True)
    api_object(chart, "v1", "ConfigMap", Meta("bare"))
    reference = cdk8s.ApiObject(chart, "theirs", api_version="v1", kind="ConfigMap",
                                metadata=cdk8s.ApiObjectMetadata(name="theirs", labels={"l": "1"}, annotations={"a": "2"}))
    reference.add_json_patch(cdk8s.JsonPatch.add("/data", {"k": "v"}), cdk8s.JsonPatch.add("/immutable", True))
    ours, bare, theirs = chart.to_json()
    assert ours == {**theirs, "metadata": {**theirs["metadata"], "name": "ours"}}
    assert bare == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bare", "namespace": "ns",
                                                                          "labels": {"team": "a"}}}
