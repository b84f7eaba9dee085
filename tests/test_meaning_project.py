"""What a project's objects mean for the controllers that read them, read from the objects a build wrote: under
the KAI scheduler, one cluster-scoped Queue per project whose resources KAI 0.17 reads as guaranteed quota, limit
and over-quota weight (GPUs in units, cpu in millicores, memory in megabytes), and that the project's pods join
by label; a ResourceQuota that quota admission counts (requests.<resource>, count/<resource>.<group>), capping
GPUs at what the project may hold when borrowing; a LimitRange that gives containers declaring nothing (sidecars,
injected init containers) the requests the quota needs; the Namespace, cluster-scoped, with the Pod Security
level its pods pass; and every other object of the project in that namespace, with the charge-back labels.

One repository, built once: a KAI environment whose projects have a full budget, an unlimited GPU limit and a
quota alone; an environment on the default scheduler with a project in the (sidecar) mesh; and an ambient one
whose identity provider names an audience."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import UPSTREAM_SCHEMAS, run
from meaning import ONE_GPU, Objects, add_environment, add_project, add_workload, bare_repo, out_objects, replicas
from nimgen.quantities import parse

KAI_API, KAI_SCHEDULER, KAI_QUEUE_LABEL = "scheduling.run.ai/v2", "kai-scheduler", "kai.scheduler/queue"
INFERENCE_PRIORITY = "inference"               # KAI's non-preemptible priority class for inference pods
UNLIMITED = -1                                 # KAI: no limit
GPU_QUOTA_KEY = "requests.nvidia.com/gpu"      # an extended resource is only quota'd on requests
ISVC_COUNT_KEY = "count/inferenceservices.serving.kserve.io"
PSA = "pod-security.kubernetes.io"
KUBERNETES = "1.33"                            # the fixture's base environment
AUDIENCE = "nim-api"

ENVIRONMENTS = {
    "kai": {"scheduler": {"name": "kai"}, "labels": {"cost-center": "platform"}},
    "plain": {},
    "amb": {"mesh": {"mode": "ambient"},
            "identity": {"issuer": "https://sso.example.com", "jwksUri": "https://sso.example.com/jwks",
                         "audiences": [AUDIENCE]}},
}
# environment -> project -> (spec.quota, the rest of spec)
PROJECTS: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    "kai": {
        "research": ({"gpus": 4, "cpu": "16", "memory": "64Gi", "workloads": 3},
                     {"namespace": "research-ns", "overQuota": {"weight": 3, "gpuLimit": 8},
                      "labels": {"team": "research"}}),
        "burst": ({"gpus": 2}, {"overQuota": {"gpuLimit": UNLIMITED}}),
        "steady": ({"gpus": 2}, {}),
    },
    "plain": {"research": ({"gpus": 4}, {}), "guarded": ({"gpus": 4}, {})},
    "amb": {"secure": ({"gpus": 4}, {})},
}
# environment -> workload -> (project, spec beyond ONE_GPU)
WORKLOADS = {
    "kai": {"chat": ("research", {}), "batch": ("burst", {"store": {"uri": "s3://models/llama-3.1-8b"}})},
    "plain": {"chat": ("research", {}), "secure": ("guarded", {"access": {"type": "authenticated"}})},
    "amb": {"secure": ("secure", {"access": {"type": "authenticated"}})},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("project") / "repo")
    for env, spec in ENVIRONMENTS.items():
        add_environment(root, env, spec)
        for project, (quota, rest) in PROJECTS[env].items():
            add_project(root, env, project, quota, **rest)
        for name, (project, workload) in WORKLOADS[env].items():
            add_workload(root, env, project, name, {**ONE_GPU, "scaling": replicas(1), **workload})
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def out(built: Path) -> dict[str, Objects]:
    return {env: Objects(out_objects(built, env)) for env in ENVIRONMENTS}


def file_objects(built: Path, env: str, relpath: str) -> list[dict[str, Any]]:
    """The objects of one file of out/<env>/."""
    return [doc for doc in yaml.safe_load_all((built / "out" / env / relpath).read_text()) if doc]


def namespace_of(env: str, project: str) -> str:
    return PROJECTS[env][project][1].get("namespace", project)      # by default named after the project


def queue(out: dict[str, Objects], project: str) -> dict[str, Any]:
    return out["kai"].get("Queue", project)


def resources(out: dict[str, Objects], project: str) -> dict[str, dict[str, int]]:
    return queue(out, project)["spec"]["resources"]


def predictor(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    return out[env].get("InferenceService", name, namespace_of(env, WORKLOADS[env][name][0]))["spec"]["predictor"]


def hard(out: dict[str, Objects], env: str, project: str) -> dict[str, str]:
    return out[env].get("ResourceQuota", f"{project}-quota", namespace_of(env, project))["spec"]["hard"]


# -- the KAI Queue of each project


def test_under_kai_each_project_has_one_cluster_scoped_queue_named_after_it(out):
    queues = out["kai"].of("Queue")
    assert sorted(q["metadata"]["name"] for q in queues) == sorted(PROJECTS["kai"])
    for q in queues:
        assert q["apiVersion"] == KAI_API
        assert "namespace" not in q["metadata"]                      # a Queue is cluster-scoped
        assert q["spec"]["displayName"] == q["metadata"]["name"]     # what KAI's tools show for it


def test_without_kai_there_are_no_queues(out):
    assert out["plain"].of("Queue") == [] and out["amb"].of("Queue") == []


def test_a_queue_guarantees_the_gpu_quota_and_caps_at_the_gpu_limit_with_the_over_quota_weight(out):
    assert resources(out, "research")["gpu"] == {"quota": 4, "limit": 8, "overQuotaWeight": 3}
    assert resources(out, "burst")["gpu"] == {"quota": 2, "limit": UNLIMITED, "overQuotaWeight": 1}
    assert resources(out, "steady")["gpu"] == {"quota": 2, "limit": 2, "overQuotaWeight": 1}   # the limit is the quota


def test_a_queue_counts_cpu_in_millicores_and_memory_in_megabytes(out):
    found = resources(out, "research")
    assert found["cpu"] == {"quota": 16 * 1000, "limit": UNLIMITED, "overQuotaWeight": 3}
    assert found["memory"] == {"quota": 64 * 2**30 // 10**6, "limit": UNLIMITED, "overQuotaWeight": 3}   # 10^6 bytes


def test_a_queue_of_a_project_without_cpu_or_memory_quota_has_no_cpu_or_memory_limit(out):
    for project in ("burst", "steady"):
        found = resources(out, project)
        assert found["cpu"]["limit"] == found["memory"]["limit"] == UNLIMITED
        assert found["cpu"]["overQuotaWeight"] == found["memory"]["overQuotaWeight"] == 1


def test_a_queue_of_a_project_without_cpu_or_memory_quota_leaves_them_unlimited(out):
    # KAI lets non-preemptible pods (inference, by default) use only in-quota resources and skips only -1: a cpu
    # quota of 0 would hold every inference pod pending (capacity_policy/quota_check.go)
    for project in ("burst", "steady"):
        found = resources(out, project)
        assert found["cpu"]["quota"] == found["memory"]["quota"] == -1


def test_a_projects_pods_join_its_queue_which_is_a_leaf_kai_schedules_into(out):
    names = {q["metadata"]["name"] for q in out["kai"].of("Queue")}
    parents = {q["spec"].get("parentQueue") for q in out["kai"].of("Queue")}
    for name, (project, _) in WORKLOADS["kai"].items():
        pod = predictor(out, "kai", name)
        assert pod["schedulerName"] == KAI_SCHEDULER and pod["priorityClassName"] == INFERENCE_PRIORITY
        assert pod["labels"][KAI_QUEUE_LABEL] == project and project in names
        assert project not in parents                    # KAI places pods only in queues without children


def test_without_kai_pods_go_to_the_default_scheduler_without_a_queue(out):
    for name in WORKLOADS["plain"]:
        pod = predictor(out, "plain", name)
        assert "schedulerName" not in pod and KAI_QUEUE_LABEL not in pod.get("labels", {})


# -- the ResourceQuota: what quota admission lets the namespace hold


def test_the_resource_quota_caps_cpu_memory_gpus_at_the_limit_and_the_number_of_inference_services(out):
    assert hard(out, "kai", "research") == {"requests.cpu": "16", "requests.memory": "64Gi", GPU_QUOTA_KEY: "8",
                                            ISVC_COUNT_KEY: "3"}


def test_the_resource_quota_caps_gpus_at_the_quota_without_over_quota_and_not_at_all_when_unlimited(out):
    assert hard(out, "kai", "steady") == {GPU_QUOTA_KEY: "2"}
    assert hard(out, "kai", "burst") == {}


def test_the_limit_range_defaults_containers_that_declare_nothing_with_what_the_quota_counts(out):
    for env, projects in PROJECTS.items():
        for project in projects:
            (limits,) = out[env].get("LimitRange", f"{project}-defaults", namespace_of(env, project))["spec"]["limits"]
            assert limits["type"] == "Container", (env, project)      # defaults apply per container
            assert set(limits["defaultRequest"]) == set(limits["default"]) == {"cpu", "memory"}
            for resource, request in limits["defaultRequest"].items():
                assert parse(request) <= parse(limits["default"][resource])     # else the LimitRange is refused
            counted = {key.removeprefix("requests.") for key in hard(out, env, project) if key.startswith("requests.")}
            assert counted & {"cpu", "memory"} <= set(limits["defaultRequest"])   # else such a pod is refused


# -- the Namespace and where the project's objects land


def test_a_projects_namespace_is_cluster_scoped_and_holds_its_objects_and_workloads(built):
    # out/<env>/{prepare,serve}/<project>/: the project's file and its workloads' files, whatever its namespace is called
    project = file_objects(built, "kai", "prepare/research/_project.yaml")
    assert sorted(o["kind"] for o in project) == ["LimitRange", "Namespace", "NetworkPolicy", "ResourceQuota"]
    (namespace,) = [o for o in project if o["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == "research-ns" and "namespace" not in namespace["metadata"]
    for o in [o for o in project if o is not namespace] + file_objects(built, "kai", "serve/research/chat.yaml"):
        assert o["metadata"]["namespace"] == "research-ns", (o["kind"], o["metadata"]["name"])


def test_every_object_of_a_project_carries_its_charge_back_and_ownership_labels(built, out):
    expected = {"cost-center": "platform", "team": "research", "nimgen.dev/project": "research",
                "app.kubernetes.io/managed-by": "nimgen"}
    for o in file_objects(built, "kai", "prepare/research/_project.yaml") + [queue(out, "research")]:
        assert expected.items() <= o["metadata"]["labels"].items(), o["kind"]


def test_the_default_deny_policy_selects_every_pod_and_admits_nothing(out):
    for env, projects in PROJECTS.items():
        for project in projects:
            spec = out[env].get("NetworkPolicy", "default-deny-ingress", namespace_of(env, project))["spec"]
            assert spec == {"podSelector": {}, "policyTypes": ["Ingress"]}


@pytest.mark.parametrize(("env", "project", "level"), [
    ("kai", "research", "restricted"),
    ("kai", "steady", "restricted"),
    ("kai", "burst", "baseline"),         # KServe's storage initializer sets no securityContext
    ("plain", "research", "restricted"),
    ("plain", "guarded", "privileged"),   # sidecar injection without Istio's CNI adds istio-init (NET_ADMIN)
    ("amb", "secure", "restricted"),      # ambient: no init container in the pod
])
def test_a_namespace_enforces_the_strictest_pod_security_level_its_pods_pass_and_warns_at_restricted(
        out, env, project, level):
    labels = out[env].get("Namespace", namespace_of(env, project))["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if k.startswith(f"{PSA}/")} == {
        f"{PSA}/enforce": level, f"{PSA}/warn": "restricted", f"{PSA}/audit": "restricted",
        **{f"{PSA}/{mode}-version": f"v{KUBERNETES}" for mode in ("enforce", "warn", "audit")}}


def test_an_ambient_waypoint_is_in_the_namespace_whose_services_it_serves(out):
    (waypoint,) = out["amb"].of("Gateway")
    labels = out["amb"].get("Namespace", "secure")["metadata"]["labels"]
    assert waypoint["metadata"]["namespace"] == "secure"
    assert waypoint["metadata"]["name"] == labels["istio.io/use-waypoint"]


# -- the identity provider's audiences: Istio accepts only tokens issued for them


def test_a_token_must_be_issued_for_the_audiences_the_environment_names(out):
    (authn,) = out["amb"].of("RequestAuthentication", "secure")
    (rule,) = authn["spec"]["jwtRules"]
    assert rule["audiences"] == [AUDIENCE]
    (plain,) = out["plain"].of("RequestAuthentication", "guarded")
    assert "audiences" not in plain["spec"]["jwtRules"][0]          # none named: any audience of the issuer


# -- the custom resources, as their controllers' CRDs read them


@functools.cache
def upstream_schema(api_version: str, kind: str) -> Draft202012Validator | None:
    group, _, version = api_version.rpartition("/")
    path = UPSTREAM_SCHEMAS / group / f"{kind.lower()}_{version}.json"
    return Draft202012Validator(json.loads(path.read_text())) if group and path.is_file() else None


@pytest.mark.skipif(not UPSTREAM_SCHEMAS.is_dir(), reason="../shared/crds/jsonschema not present")
def test_every_custom_resource_passes_its_upstream_crd_schema(out):
    found = {}
    for env, objects in out.items():
        for o in objects.all:
            validator = upstream_schema(o["apiVersion"], o["kind"])
            if validator is not None:
                found[(env, o["kind"], o["metadata"]["name"])] = [
                    f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(o)]
    assert {kind for _, kind, _ in found} >= {"Queue", "Gateway", "RequestAuthentication", "InferenceService"}
    assert {k: v for k, v in found.items() if v} == {}
