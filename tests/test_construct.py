"""Construct renders decided model values and nothing else: tested on hand-built models, read for their
meaning on a cluster (who may call, which namespaces reach the pods, which objects exist)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from builders import SELECTOR, container, jwt, pdb, project, service, workload
from generator.construct import project_charts, queue_charts, synthesize, workload_charts
from generator.construct.registry import render
from generator.model import (ClaimRule, ClusterLocal, EnvVar, Fixed, Hpa, IngressPolicy, Keda, Knative, Meta, Public,
                             ScaleTarget, SecretKeyRef)


def objects(w) -> dict[tuple[str, str], dict]:
    (found,) = synthesize({"f": workload_charts(w)}).values()
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
    assert kinds(workload()) == ["InferenceService", "NetworkPolicy"]


def test_a_disruption_budget_exists_only_when_the_model_has_one():
    assert "PodDisruptionBudget" not in kinds(workload(scaling=Fixed(1, 1), disruption=None))
    rendered = objects(workload(scaling=Fixed(3, 3), disruption=pdb()))
    budget = rendered[("PodDisruptionBudget", "w")]["spec"]
    assert budget == {"maxUnavailable": 1, "selector": {"matchLabels": dict(SELECTOR)}}


def test_each_scaling_backend_renders_its_own_autoscaler():
    target = ScaleTarget("apps/v1", "Deployment", "w-predictor")
    hpa = Hpa(Meta("w"), target, 1, 3, "concurrency", 8.0, "num_requests_running", "8", 600)
    keda = Keda(Meta("w"), target, 0, 3, "throughput", 20.0, 15, 300, "http://prom:9090", "sum(x)", "20")
    assert kinds(workload(scaling=hpa)) == ["HorizontalPodAutoscaler", "InferenceService", "NetworkPolicy"]
    assert kinds(workload(scaling=keda)) == ["InferenceService", "NetworkPolicy", "ScaledObject"]
    assert kinds(workload(scaling=Knative(0, 3, "throughput", 20.0, "rps", 20))) == ["InferenceService", "NetworkPolicy"]
    scaled = objects(workload(scaling=keda))[("ScaledObject", "w")]["spec"]
    assert scaled["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w-predictor"}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"], scaled["cooldownPeriod"]) == (0, 3, 300)
    assert scaled["triggers"] == [{"type": "prometheus", "metadata": {"serverAddress": "http://prom:9090",
                                                                       "query": "sum(x)", "threshold": "20"}}]
    autoscaler = objects(workload(scaling=hpa))[("HorizontalPodAutoscaler", "w")]["spec"]
    assert autoscaler["scaleTargetRef"]["name"] == "w-predictor"
    assert autoscaler["metrics"][0]["pods"] == {"metric": {"name": "num_requests_running"},
                                                "target": {"type": "AverageValue", "averageValue": "8"}}


def test_a_model_type_without_a_construct_is_a_bug_not_silence():
    @dataclass(frozen=True)
    class Unknown:
        pass

    with pytest.raises(TypeError, match="no construct registered for Unknown"):
        synthesize({"f": workload_charts(workload(access=Unknown()))})


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
    assert scrape == {"from": [{"source": {"namespaces": ["monitoring"]}}],
                      "to": [{"operation": {"methods": ["GET"], "paths": ["/v1/metrics"]}}]}


def test_group_access_requires_the_claim_value_as_well_as_a_token():
    _, authz = policies(workload(access=jwt(ClaimRule("groups", ("ml", "ops")))))
    caller = authz["spec"]["rules"][0]
    assert caller["from"] == [{"source": {"requestPrincipals": ["*"]}}]
    assert caller["when"] == [{"key": "request.auth.claims[groups]", "values": ["ml", "ops"]}]


# -- which namespaces may reach the pods


def test_network_policy_admits_exactly_the_decided_namespaces_on_the_nim_port():
    policy = IngressPolicy(Meta("w-ingress"), SELECTOR, ("ns", "monitoring"), 8000)
    spec = objects(workload(ingress=policy))[("NetworkPolicy", "w-ingress")]["spec"]
    assert spec["podSelector"] == {"matchLabels": dict(SELECTOR)} and spec["policyTypes"] == ["Ingress"]
    admitted = [rule["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for rule in spec["ingress"]]
    assert admitted == ["ns", "monitoring"]
    assert all(rule["ports"] == [{"port": 8000, "protocol": "TCP"}] and len(rule["from"]) == 1 for rule in spec["ingress"])


# -- the predictor


def test_secrets_are_referenced_never_inlined():
    env = (EnvVar("NIM_CACHE_PATH", "/opt/nim/.cache"), EnvVar("NGC_API_KEY", secret=SecretKeyRef("ngc", "KEY")))
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
    files = synthesize({"p": project_charts(project()), "q": queue_charts((project().queue,))})
    by_kind = {o["kind"]: o for o in files["p"]}
    assert "namespace" not in by_kind["Namespace"]["metadata"] and by_kind["Namespace"]["metadata"]["name"] == "ns"
    for kind in ("ResourceQuota", "LimitRange", "NetworkPolicy"):
        assert by_kind[kind]["metadata"]["namespace"] == "ns"
    assert by_kind["NetworkPolicy"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    (queue,) = files["q"]
    assert "namespace" not in queue["metadata"]
    assert queue["spec"]["resources"]["gpu"] == {"quota": 4, "limit": 6, "overQuotaWeight": 1}


def test_render_dispatches_on_the_model_type_only():
    with pytest.raises(TypeError):
        render(None, "clusterLocal")  # a string is not a model value


def test_pod_security_context_renders_the_seccomp_profile():
    predictor = objects(workload())[("InferenceService", "w")]["spec"]["predictor"]
    assert predictor["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
