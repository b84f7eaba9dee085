"""Decisions resolve makes, read from the model (no cdk8s): which objects exist, who may call, which namespaces
may reach the pods, one GPU budget per project, GPU products matched once, one model reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import errors_of, resolved, write_workload
from nimgen.model import ClaimRule, ClusterLocal, Fixed, Jwt, MatchExpression, Public
from nimgen.usecases import compile_all

SPEC = {"model": {"nim": "meta/llama-3.1-8b-instruct", "version": "1.1.2"}, "profile": {"name": "vllm-fp16-tp1"},
        "store": {"pvc": {"claim": "c"}}, "compute": {"cpu": "4", "memory": "32Gi"}}


def projects(root: Path, env: str) -> dict:
    return {p.name: p for p in compile_all(root, [env], render=False).resolved[env].projects}


# -- which objects exist for which replica range


@pytest.mark.parametrize(("low", "high", "budget"), [(1, 1, False), (1, 4, False), (0, 2, False), (2, 2, True), (2, 6, True)])
def test_a_disruption_budget_only_when_two_replicas_are_always_up(repo: Path, low: int, high: int, budget: bool):
    scaling = {"minReplicas": low, "maxReplicas": high}
    if high > low:
        scaling.update(metric="concurrency", target=4)
    if low == 0:
        scaling["scaleToZero"] = {"afterSeconds": 60}
    write_workload(repo, "staging", "r", {**SPEC, "scaling": scaling}, project="research")
    w = resolved(repo, "staging")["r"]
    assert (w.disruption is not None) == budget
    if budget:
        assert w.disruption.max_unavailable == 1 and w.disruption.selector == w.ingress.selector


def test_fixed_replicas_need_no_autoscaler(repo: Path):
    w = resolved(repo, "prod")["mistral-7b-eval"]
    assert w.scaling == Fixed(1, 1)
    assert dict(w.service.meta.annotations)["serving.kserve.io/autoscalerClass"] == "none"


def test_autoscalers_target_the_predictor_deployment_kserve_creates(repo: Path):
    prod, staging = resolved(repo, "prod")["llama-8b-chat"], resolved(repo, "staging")
    for w in (prod, staging["llama-8b-chat"], staging["llama-8b-batch"]):
        assert (w.scaling.target_ref.kind, w.scaling.target_ref.name) == ("Deployment", f"{w.name}-predictor")
        assert dict(w.service.meta.annotations)["serving.kserve.io/autoscalerClass"] == "external"
    assert [w.scaling.backend for w in (prod, staging["llama-8b-chat"], staging["llama-8b-batch"])] == ["keda", "hpa", "keda-http"]


# -- who may call, and from where


def admitted(w, port: int) -> set[str]:
    return {ns for rule in w.ingress.rules if port in rule.ports for ns in rule.namespaces}


def test_cluster_local_workloads_are_reachable_only_from_their_project_and_monitoring(repo: Path):
    local = resolved(repo, "staging")["llama-8b-batch"]
    assert local.access == ClusterLocal()
    # the KEDA HTTP add-on scales on what its interceptor (namespace keda) forwards: only it reaches the pods,
    # so that every request is counted (the project calls through the wake Service)
    assert admitted(local, 8000) == {"monitoring", "keda"}
    write_workload(repo, "prod", "quiet", {**SPEC, "access": {"type": "clusterLocal"}}, project="research")
    assert admitted(resolved(repo, "prod")["quiet"], 8000) == {"research", "monitoring"}


def test_exposed_workloads_also_admit_the_gateway(repo: Path):
    token = resolved(repo, "prod")["llama-8b-chat"]
    assert isinstance(token.access, Jwt) and token.access.claim is None
    assert admitted(token, 8000) == {"chat", "monitoring", "istio-system"}


def test_knative_workloads_are_reached_through_the_queue_proxy_from_activator_and_gateways(repo: Path):
    public = resolved(repo, "dev")["llama-8b-chat"]
    assert public.access == Public()
    assert admitted(public, 8012) == {"chat", "istio-system", "knative-serving"}
    assert admitted(public, 8000) == {"monitoring"}          # NIM's own port only for the scrape
    assert admitted(public, 9090) == admitted(public, 8022) == {"knative-serving"}


def test_groups_and_users_need_their_claim(repo: Path):
    groups, users = resolved(repo, "prod")["mistral-7b-eval"], resolved(repo, "prod")["llama-70b-chat"]
    assert groups.access.claim == ClaimRule("groups", ("ml-research",))
    assert users.access.claim == ClaimRule("email", ("alice@example.com", "bob@example.com"))
    assert groups.access.issuer == "https://sso.example.com"


# -- one GPU budget per project


def test_queue_quota_and_checks_read_one_budget(repo: Path):
    for env in ("prod", "staging"):
        for p in projects(repo, env).values():
            hard = dict(p.quota.hard)
            assert hard["requests.nvidia.com/gpu"] == str(p.budget.limit)
            if p.queue is not None:
                assert (p.queue.gpu.quota, p.queue.gpu.limit) == (p.budget.quota, p.budget.limit)


def test_a_limit_below_the_quota_is_an_error_at_the_limit(repo: Path):
    path = repo / "environments/prod/projects/research.yaml"
    path.write_text(path.read_text().replace("gpuLimit: 12", "gpuLimit: 6"))
    found = errors_of(repo, "prod")  # line 7 is "  overQuota: {weight: 1, gpuLimit: 12}": the value at column 36
    assert any(e.startswith("environments/prod/projects/research.yaml:7:36: spec.overQuota.gpuLimit: gpuLimit 6 is "
                            "below the project's GPU quota of 8") for e in found), found


def test_an_unlimited_project_has_no_gpu_cap_anywhere(repo: Path):
    path = repo / "environments/prod/projects/research.yaml"
    path.write_text(path.read_text().replace("gpuLimit: 12", "gpuLimit: -1"))
    p = projects(repo, "prod")["research"]
    assert p.budget.limit is None and p.queue.gpu.limit == -1
    assert "requests.nvidia.com/gpu" not in dict(p.quota.hard)


# -- GPU products: one matcher, the pool's label value


@pytest.mark.parametrize("asked", ["nvidia-l40s", "L40S", "NVIDIA_L40S"])
def test_gpu_product_matches_pools_like_profiles_do_and_affinity_uses_the_pool_label(repo: Path, asked: str):
    spec = {**SPEC, "compute": {"cpu": "4", "memory": "32Gi", "gpuProduct": asked}}
    write_workload(repo, "staging", "g", spec, project="research")
    placement = resolved(repo, "staging")["g"].service.placement
    assert placement.pools == ("l40s",)
    assert MatchExpression("nvidia.com/gpu.product", "In", ("NVIDIA-L40S",)) in placement.required


def test_gpu_product_no_pool_has_is_an_error(repo: Path):
    spec = {**SPEC, "compute": {"cpu": "4", "memory": "32Gi", "gpuProduct": "H100"}}
    write_workload(repo, "staging", "g", spec, project="research")
    assert any("spec.compute.gpuProduct: no node pool of environment staging has H100" in e for e in errors_of(repo, "staging"))


def test_a_pool_named_for_another_gpu_product_is_an_error(repo: Path):
    spec = {**SPEC, "compute": {"cpu": "4", "memory": "32Gi", "gpuProduct": "NVIDIA-L40S"},
            "scheduling": {"nodePools": ["a100"]}}
    write_workload(repo, "staging", "g", spec, project="research")
    assert any("node pool 'a100' has NVIDIA-A100-SXM4-80GB, but compute asks for gpuProduct NVIDIA-L40S" in e
               for e in errors_of(repo, "staging"))


# -- one model reference


def test_catalog_reference_and_image_together_is_an_error(repo: Path):
    spec = {**SPEC, "model": {**SPEC["model"], "image": "nvcr.io/nim/custom:1"}}
    write_workload(repo, "staging", "m", spec, project="research")
    found = errors_of(repo, "staging")
    assert any("environments/staging/workloads/m.yaml:" in e and "spec.model.image: model has both a catalog reference" in e
               for e in found), found


def test_an_environment_image_over_a_base_catalog_reference_names_both_files(repo: Path):
    path = repo / "environments/dev/workloads/llama-8b-chat.yaml"
    path.write_text(path.read_text() + "  model: {image: nvcr.io/nim/custom:1}\n")
    found = errors_of(repo, "dev")
    assert any(e.startswith("environments/dev/workloads/llama-8b-chat.yaml:8:") and
               "(nim at environments/base/workloads/llama-8b-chat.yaml:10)" in e for e in found), found


# -- issue 7, first steps: what KServe and Pod Security read


def test_cluster_local_workloads_carry_kserve_and_knative_visibility_labels(repo: Path):
    local, public = resolved(repo, "staging")["llama-8b-batch"], resolved(repo, "prod")["llama-8b-chat"]
    assert dict(local.service.meta.labels) == {"networking.kserve.io/visibility": "cluster-local",
                                               "networking.knative.dev/visibility": "cluster-local"}
    assert dict(public.service.meta.labels) == {}


@pytest.mark.parametrize(("version", "asked", "written"), [
    ("0.15", "Standard", "RawDeployment"), ("0.15", "Knative", "Serverless"), ("0.15", "RawDeployment", "RawDeployment"),
    ("0.16", "RawDeployment", "Standard"), ("0.20", "Serverless", "Knative"), ("0.20", "Standard", "Standard")])
def test_deployment_mode_is_spelled_for_the_kserve_version(repo: Path, version: str, asked: str, written: str):
    path = repo / "environments/dev/environment.yaml"
    text = path.read_text().replace("kserve: {deploymentMode: Knative}", f'kserve: {{version: "{version}", deploymentMode: {asked}}}')
    if asked in ("Standard", "RawDeployment"):
        text = text.replace("backend: knative, ", "")
    path.write_text(text)
    w = resolved(repo, "dev")["llama-8b-chat"]
    assert dict(w.service.meta.annotations)["serving.kserve.io/deploymentMode"] == written


def test_pods_run_with_the_runtime_default_seccomp_profile(repo: Path):
    for w in resolved(repo, "prod").values():
        assert w.service.pod_security.seccomp_profile == "RuntimeDefault"
