"""What Run:ai scheduling means (issue 14), read from the objects a build wrote and from the diagnostics resolve
reports: GPU shares under the KAI scheduler (KAI's gpu-fraction / gpu-memory pod annotations on the NIM container,
no nvidia.com/gpu device request, and NIM's vLLM engine told through NIM_KVCACHE_PERCENT to stay within the
share, since KAI does not isolate GPU memory); departments as parent KAI queues whose quota the projects' queues
share; named priorities rendered as PriorityClasses and KAI's preemptibility label; sized node pools whose nodes
the replicas must fit; CPU, memory and MIG slices in the project budget; and topology spread for the default
scheduler, which KAI does not honour.

Two repositories, each made once for the module: one whose environments are valid, built to out/ (the rendered
fields), and one of a small environment per misuse, resolved together without rendering (each diagnostic read in
its own environment's folder, at the file, path and line a user edits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run
from meaning import (ONE_GPU, TWO_GPUS, add_environment, add_project, add_workload, bare_repo,
                     diagnostics_by_environment, errors, Objects, out_objects, replicas, warnings)
from nimgen.diagnostics import Diagnostic

GPU = "nvidia.com/gpu"
PREEMPTIBILITY = "kai.scheduler/preemptibility"
NIM_CONTAINER = "kserve-container"
ISVC_LABEL = "serving.kserve.io/inferenceservice"

L40S = {"name": "l40s", "gpu": {"product": "NVIDIA-L40S", "perNode": 4, "memory": "48Gi", "device": "26b9:10de"}}
A100_MIG = {"name": "a100", "gpu": {"product": "NVIDIA-A100-SXM4-80GB", "perNode": 8, "memory": "80Gi",
                                    "device": "20b2:10de", "migProfiles": ["1g.10gb", "3g.40gb"]}}
# an L40S pool that does not say how much memory its GPUs have: nimgen cannot size a share there
NO_MEMORY = {"name": "l40s", "gpu": {"product": "NVIDIA-L40S", "perNode": 4, "device": "26b9:10de"}}
KAI = {"name": "kai"}
MISTRAL_7B = {"nim": "mistralai/mistral-7b-instruct-v0.3", "version": "1.12.0"}


def share(compute: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """ONE_GPU (Llama 3.1 8B, 16 GB of weights at fp16, on pool l40s) asking for part of a GPU instead; `spec`
    changes its profile, model or scheduling."""
    return {**ONE_GPU, "compute": {"cpu": "4", "memory": "32Gi", **compute}, "scaling": replicas(1), **spec}


def sized(pool: dict[str, Any], nodes: int) -> dict[str, Any]:
    return {**pool, "nodes": nodes}


# -- the rendered repository ---------------------------------------------------------------------------------------

# department ai: its projects chat (4 GPUs) and research (3) share its quota of 8
DEPARTMENT = {"name": "ai", "quota": {"gpus": 8, "cpu": "64", "memory": "512Gi"},
              "overQuota": {"gpuLimit": 12, "weight": 2},
              "scheduling": {"priority": 100, "preemptMinRuntime": "10m", "reclaimMinRuntime": "30m"}}
BUILT_ENVIRONMENTS = {
    "kai": {"scheduler": {**KAI, "priorities": {"serving": "inference", "batch": "build-preemptible"},
                          "defaultPriority": "serving"},
            "departments": [DEPARTMENT], "nodePools": [sized(L40S, 2), sized(A100_MIG, 1)]},
    "plain": {"scheduler": {"priorities": {"standard": "serving-standard"}, "defaultPriority": "standard"}},
    "old": {"kubernetesVersion": "1.26"},     # before matchLabelKeys in topology spread (1.27)
}
# environment -> project -> (spec.quota, the rest of spec)
BUILT_PROJECTS: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    "kai": {
        "chat": ({"gpus": 4, "cpu": "32", "memory": "256Gi"},
                 {"department": "ai", "overQuota": {"gpuLimit": 8, "weight": 3},
                  "scheduling": {"priority": 50, "preemptMinRuntime": "5m", "reclaimMinRuntime": "15m"}}),
        "research": ({"gpus": 3}, {"department": "ai"}),
        "solo": ({"gpus": 1}, {}),            # in no department
    },
    "plain": {"team": ({"gpus": 4}, {})},
    "old": {"team": ({"gpus": 4}, {})},
}
# environment -> workload -> (project, spec)
BUILT_WORKLOADS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "kai": {
        # half an L40S, its profile chosen by nimgen (vLLM: the engine NIM lets a share bound), default priority
        "half": ("chat", share({"gpuFraction": 0.5}, profile={"auto": {}})),
        # 20Gi of a 48Gi L40S: 20480 MiB, 0.41666 of the GPU, the engine told 0.41 (rounded down)
        "mem": ("research", share({"gpuMemory": "20Gi"}, model=MISTRAL_7B, profile={"name": "vllm-bf16-tp1"},
                                  scheduling={"nodePools": ["l40s"], "priority": "batch"})),
        # a whole GPU, preemptible
        "drafts": ("research", {**ONE_GPU, "scaling": replicas(1),
                                "scheduling": {"nodePools": ["l40s"], "priority": "batch", "preemptible": True}}),
        "whole": ("solo", {**ONE_GPU, "scaling": replicas(1)}),
    },
    "plain": {
        "zonal": ("team", {**ONE_GPU, "scaling": replicas(2),
                           "scheduling": {"nodePools": ["l40s"], "spread": {"across": "zone", "required": True}}}),
        "nodal": ("team", {**ONE_GPU, "scaling": replicas(2),
                           "scheduling": {"nodePools": ["l40s"], "spread": {"across": "node"}}}),
    },
    "old": {
        "nodal": ("team", {**ONE_GPU, "scaling": replicas(2),
                           "scheduling": {"nodePools": ["l40s"], "spread": {"across": "node"}}}),
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("scheduling-built") / "repo")
    for env, spec in BUILT_ENVIRONMENTS.items():
        add_environment(root, env, spec)
        for project, (quota, rest) in BUILT_PROJECTS[env].items():
            add_project(root, env, project, quota, **rest)
        for name, (project, workload) in BUILT_WORKLOADS[env].items():
            add_workload(root, env, project, name, workload)
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def out(built: Path) -> dict[str, Objects]:
    return {env: Objects(out_objects(built, env)) for env in BUILT_ENVIRONMENTS}


def predictor(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    project = BUILT_WORKLOADS[env][name][0]
    return out[env].get("InferenceService", name, project)["spec"]["predictor"]


def nim_container(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in pod["containers"] if c["name"] == NIM_CONTAINER]
    return container


def env_var(pod: dict[str, Any], name: str) -> str | None:
    found = [e["value"] for e in nim_container(pod).get("env", ()) if e["name"] == name]
    assert len(found) <= 1, found
    return found[0] if found else None


# -- GPU shares


def test_a_gpu_fraction_is_kais_annotation_on_the_nim_container_and_no_device_request(out):
    pod = predictor(out, "kai", "half")
    assert pod["annotations"]["gpu-fraction"] == "0.5"
    # KAI gives the share to the first container otherwise: the NIM container is named
    assert pod["annotations"]["gpu-fraction-container-name"] == NIM_CONTAINER
    assert "gpu-memory" not in pod["annotations"]
    resources = nim_container(pod)["resources"]
    assert GPU not in resources["requests"] and GPU not in resources["limits"]
    assert resources["requests"] == resources["limits"] == {"cpu": "4", "memory": "32Gi"}


def test_a_gpu_fraction_tells_the_vllm_engine_to_stay_within_it(out):
    pod = predictor(out, "kai", "half")
    assert env_var(pod, "NIM_KVCACHE_PERCENT") == "0.5"
    # the profile nimgen chose is one whose engine can be bounded (vLLM), not the TensorRT-LLM one it prefers
    isvc = out["kai"].get("InferenceService", "half", "chat")
    assert isvc["metadata"]["annotations"]["nimgen.dev/profile"].startswith("vllm-")


def test_a_gpu_memory_share_is_in_mib_and_the_engine_fraction_is_rounded_down(out):
    pod = predictor(out, "kai", "mem")
    assert pod["annotations"]["gpu-memory"] == str(20 * 1024)
    assert pod["annotations"]["gpu-fraction-container-name"] == NIM_CONTAINER
    assert "gpu-fraction" not in pod["annotations"]
    resources = nim_container(pod)["resources"]
    assert GPU not in resources["requests"] and GPU not in resources["limits"]
    # 20Gi of a 48Gi GPU is 0.41666...: never above the share, so 0.41
    assert env_var(pod, "NIM_KVCACHE_PERCENT") == "0.41"


def test_a_whole_gpu_workload_requests_its_device_and_no_share(out):
    pod = predictor(out, "kai", "drafts")
    assert nim_container(pod)["resources"]["requests"][GPU] == nim_container(pod)["resources"]["limits"][GPU] == "1"
    assert not {"gpu-fraction", "gpu-memory", "gpu-fraction-container-name"} & set(pod.get("annotations", {}))
    assert env_var(pod, "NIM_KVCACHE_PERCENT") is None


# -- departments: a parent queue per department, the projects' queues under it


def test_a_department_is_a_queue_without_a_parent_with_its_quota_and_scheduling(out):
    queue = out["kai"].get("Queue", "ai")
    spec = queue["spec"]
    assert "parentQueue" not in spec and "namespace" not in queue["metadata"]
    assert spec["resources"]["gpu"] == {"quota": 8, "limit": 12, "overQuotaWeight": 2}
    assert spec["resources"]["cpu"]["quota"] == 64 * 1000                       # millicores
    assert spec["resources"]["memory"]["quota"] == 512 * 2**30 // 10**6        # megabytes
    assert (spec["priority"], spec["preemptMinRuntime"], spec["reclaimMinRuntime"]) == (100, "10m", "30m")


def test_the_projects_of_a_department_queue_under_it(out):
    parents = {q["metadata"]["name"]: q["spec"].get("parentQueue") for q in out["kai"].of("Queue")}
    assert parents == {"ai": None, "chat": "ai", "research": "ai", "solo": None}


def test_a_project_queue_carries_its_own_scheduling_fields(out):
    chat = out["kai"].get("Queue", "chat")["spec"]
    assert (chat["priority"], chat["preemptMinRuntime"], chat["reclaimMinRuntime"]) == (50, "5m", "15m")
    assert chat["resources"]["gpu"] == {"quota": 4, "limit": 8, "overQuotaWeight": 3}
    research = out["kai"].get("Queue", "research")["spec"]
    assert not {"priority", "preemptMinRuntime", "reclaimMinRuntime"} & set(research)    # none given: KAI's defaults


def test_pods_join_their_projects_leaf_queue_never_the_department(out):
    for name, (project, _) in BUILT_WORKLOADS["kai"].items():
        assert predictor(out, "kai", name)["labels"]["kai.scheduler/queue"] == project


# -- priorities and preemptibility


def test_a_workload_naming_no_priority_gets_the_default_and_is_not_preemptible(out):
    pod = predictor(out, "kai", "half")
    assert pod["priorityClassName"] == "inference"          # defaultPriority serving -> class inference
    assert pod["labels"][PREEMPTIBILITY] == "non-preemptible"


def test_the_preemptibility_label_says_what_the_workload_says_whatever_its_class(out):
    # both name priority batch (class build-preemptible); only the one marked preemptible is
    drafts, mem = predictor(out, "kai", "drafts"), predictor(out, "kai", "mem")
    assert drafts["priorityClassName"] == mem["priorityClassName"] == "build-preemptible"
    assert drafts["labels"][PREEMPTIBILITY] == "preemptible"
    assert mem["labels"][PREEMPTIBILITY] == "non-preemptible"


def test_under_the_default_scheduler_the_default_priority_is_a_class_and_there_is_no_kai_label(out):
    for name in BUILT_WORKLOADS["plain"]:
        pod = predictor(out, "plain", name)
        assert pod["priorityClassName"] == "serving-standard"
        assert PREEMPTIBILITY not in pod.get("labels", {}) and "schedulerName" not in pod


# -- MIG slices in the ResourceQuota


def test_the_resource_quota_caps_each_mig_slice_type_at_the_gpu_limit_over_its_compute_units(out):
    # chat may hold 8 GPUs: 8 slices of 1g.10gb (1 unit) or 2 of 3g.40gb (3 units, 8 // 3)
    hard = out["kai"].get("ResourceQuota", "chat-quota", "chat")["spec"]["hard"]
    assert hard["requests.nvidia.com/mig-1g.10gb"] == "8" and hard["requests.nvidia.com/mig-3g.40gb"] == "2"
    assert hard["requests.nvidia.com/gpu"] == "8"
    # research: no overQuota, its limit is its quota of 3
    hard = out["kai"].get("ResourceQuota", "research-quota", "research")["spec"]["hard"]
    assert hard["requests.nvidia.com/mig-1g.10gb"] == "3" and hard["requests.nvidia.com/mig-3g.40gb"] == "1"


def test_without_mig_pools_the_resource_quota_names_no_slice(out):
    hard = out["plain"].get("ResourceQuota", "team-quota", "team")["spec"]["hard"]
    assert not [key for key in hard if "mig-" in key]


# -- topology spread under the default scheduler


def spread_of(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    (constraint,) = predictor(out, env, name)["topologySpreadConstraints"]
    return constraint


def test_a_required_spread_across_zones_refuses_to_schedule_a_skewed_replica(out):
    constraint = spread_of(out, "plain", "zonal")
    assert constraint["topologyKey"] == "topology.kubernetes.io/zone"
    assert constraint["maxSkew"] == 1 and constraint["whenUnsatisfiable"] == "DoNotSchedule"
    assert constraint["labelSelector"] == {"matchLabels": {ISVC_LABEL: "zonal"}}
    # a rollout's new pods are counted apart from the old ones (Kubernetes >= 1.27, Standard mode)
    assert constraint["matchLabelKeys"] == ["pod-template-hash"]


def test_a_preferred_spread_across_nodes_schedules_anyway(out):
    constraint = spread_of(out, "plain", "nodal")
    assert constraint["topologyKey"] == "kubernetes.io/hostname"
    assert constraint["maxSkew"] == 1 and constraint["whenUnsatisfiable"] == "ScheduleAnyway"
    assert constraint["labelSelector"] == {"matchLabels": {ISVC_LABEL: "nodal"}}


def test_before_kubernetes_1_27_a_spread_has_no_match_label_keys(out):
    constraint = spread_of(out, "old", "nodal")
    assert constraint["topologyKey"] == "kubernetes.io/hostname" and "matchLabelKeys" not in constraint


def test_a_workload_without_spread_has_no_constraint(out):
    assert "topologySpreadConstraints" not in predictor(out, "kai", "half")


# -- the README's node pools


def pool_rows(built: Path, env: str) -> dict[str, list[str]]:
    """The rows of the README's node pool table: pool | GPU | per node | nodes | GPUs | guaranteed | peak | headroom."""
    readme = (built / "out" / env / "README.md").read_text()
    section = readme.split("## Node pools", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| pool |")]
    return {row[0]: row for row in rows}


# on l40s: half 0.5 + mem 20Gi of 48Gi + drafts 1 + whole 1; nothing scales, so the peak is the guaranteed use
L40S_USE = 0.5 + 20 / 48 + 1 + 1


def test_the_readme_shows_each_sized_pools_nodes_gpus_use_and_headroom(built):
    rows = pool_rows(built, "kai")
    assert rows["a100"][2:] == ["8", "1", "8", "0", "0", "8"]          # sized, unused
    l40s = rows["l40s"]
    assert l40s[2:5] == ["4", "2", "8"]
    guaranteed, peak, headroom = (float(cell) for cell in l40s[5:8])
    assert guaranteed == peak == pytest.approx(L40S_USE, abs=0.01)
    assert headroom == pytest.approx(8 - L40S_USE, abs=0.01)


def test_an_unsized_pool_is_shown_as_such(built):
    assert pool_rows(built, "plain")["l40s"][3:] == ["not sized", "-", "-", "-", "-"]


def test_the_readme_prints_a_memory_shares_pool_use_as_a_short_decimal(built):
    for cell in pool_rows(built, "kai")["l40s"][5:8]:
        assert len(cell.partition(".")[2]) <= 2, cell


# -- the misuses: one small environment each, resolved together once ------------------------------------------------

TEAM = {"gpus": 16}
# environment -> (environment spec, {project: (quota, rest of spec)}, {workload: (project, spec)})
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, tuple[dict[str, Any], dict[str, Any]]],
                           dict[str, tuple[str, dict[str, Any]]]]] = {
    # GPU shares
    "share-no-kai": ({}, {"team": (TEAM, {})}, {"w": ("team", share({"gpuFraction": 0.5}))}),
    "share-tp2": ({"scheduler": KAI}, {"team": (TEAM, {})},
                  {"w": ("team", share({"gpuFraction": 0.5}, model=MISTRAL_7B, profile={"name": "vllm-bf16-tp2"}))}),
    # a tenth of a 48Gi L40S is 5.2 GB; an 8B model at fp16 has 16 GB of weights
    "share-small": ({"scheduler": KAI}, {"team": (TEAM, {})}, {"w": ("team", share({"gpuFraction": 0.1}))}),
    "share-small-memory": ({"scheduler": KAI}, {"team": (TEAM, {})}, {"w": ("team", share({"gpuMemory": "8Gi"}))}),
    "share-no-memory": ({"scheduler": KAI, "nodePools": [NO_MEMORY]}, {"team": (TEAM, {})},
                        {"w": ("team", share({"gpuFraction": 0.5})), "x": ("team", share({"gpuMemory": "20Gi"}))}),
    "share-trt": ({"scheduler": KAI}, {"team": (TEAM, {})},
                  {"w": ("team", share({"gpuFraction": 0.5},
                                       profile={"name": "tensorrt_llm-l40s-bf16-tp1-throughput"}))}),
    # 20Gi on an L40S (48Gi) or an A100 (80Gi): NIM is told 20/80 = 0.25 of its GPU, on an L40S 12Gi (12.9 GB),
    # less than Mistral 7B's 14.5 GB of weights at bf16
    "share-mixed-pools": ({"scheduler": KAI, "nodePools": [L40S, A100_MIG]}, {"team": (TEAM, {})},
                          {"w": ("team", share({"gpuMemory": "20Gi"}, model=MISTRAL_7B,
                                               profile={"name": "vllm-bf16-tp1"},
                                               scheduling={"nodePools": ["l40s", "a100"]}))}),
    # departments
    "dept-over": ({"scheduler": KAI, "departments": [{"name": "ai", "quota": {"gpus": 4, "cpu": "8"}}]},
                  {"a": ({"gpus": 3, "cpu": "4"}, {"department": "ai"}),
                   "b": ({"gpus": 2, "cpu": "6"}, {"department": "ai"})}, {}),
    # a project limit above its department's: KAI holds a child queue to its parent's limit (a warning); without
    # KAI there is no parent queue, so nothing to say
    "dept-limit": ({"scheduler": KAI, "departments": [{"name": "ai", "quota": {"gpus": 4}, "overQuota": {"gpuLimit": 6}}]},
                   {"a": ({"gpus": 2}, {"department": "ai", "overQuota": {"gpuLimit": 8}})}, {}),
    "dept-limit-plain": ({"departments": [{"name": "ai", "quota": {"gpus": 4}, "overQuota": {"gpuLimit": 6}}]},
                         {"a": ({"gpus": 2}, {"department": "ai", "overQuota": {"gpuLimit": 8}})}, {}),
    "dept-unknown": ({"scheduler": KAI, "departments": [{"name": "ai-platform", "quota": {"gpus": 8}}]},
                     {"team": ({"gpus": 4}, {"department": "ai-platfrom"})}, {}),
    # capacity: one node of four L40S holds two replicas of two GPUs
    "pool-min": ({"nodePools": [sized(L40S, 1)]}, {"team": (TEAM, {})},
                 {"wide": ("team", {**TWO_GPUS, "scaling": replicas(3)})}),
    "pool-max": ({"nodePools": [sized(L40S, 1)]}, {"team": (TEAM, {})},
                 {"wide": ("team", {**TWO_GPUS, "scaling": replicas(1, 3)})}),
    # one node of one L40S: two halves fit it, not three
    "pool-shares": ({"scheduler": KAI, "nodePools": [sized({**L40S, "gpu": {**L40S["gpu"], "perNode": 1}}, 1)]},
                    {"team": (TEAM, {})}, {"halves": ("team", {**share({"gpuFraction": 0.5}), "scaling": replicas(3)})}),
    "pool-at": ({"nodePools": [sized(L40S, 1)]}, {"team": (TEAM, {})},
                {"wide": ("team", {**TWO_GPUS, "scaling": replicas(1, 2)})}),
    # priorities and preemption
    "priority-unknown": ({"scheduler": {**KAI, "priorities": {"serving": "inference"}}}, {"team": (TEAM, {})},
                         {"w": ("team", {**ONE_GPU, "scaling": replicas(1), "scheduling": {
                             "nodePools": ["l40s"], "priority": "urgent"}})}),
    "default-unknown": ({"scheduler": {**KAI, "priorities": {"serving": "inference"}, "defaultPriority": "servng"}},
                        {"team": (TEAM, {})}, {}),
    "preempt-default": ({}, {"team": (TEAM, {})},
                        {"w": ("team", {**ONE_GPU, "scaling": replicas(1), "scheduling": {
                            "nodePools": ["l40s"], "preemptible": True}})}),
    # spread
    "spread-kai": ({"scheduler": KAI}, {"team": (TEAM, {})},
                   {"w": ("team", {**ONE_GPU, "scaling": replicas(2), "scheduling": {
                       "nodePools": ["l40s"], "spread": {"across": "zone"}}})}),
    # CPU and memory quotas: 2 x 4 CPU against 6; 3 x 32Gi against 64Gi at peak only
    "cpu-over": ({}, {"team": ({"gpus": 8, "cpu": "6"}, {})}, {"w": ("team", {**ONE_GPU, "scaling": replicas(2)})}),
    "memory-peak": ({}, {"team": ({"gpus": 8, "memory": "64Gi"}, {})},
                    {"w": ("team", {**ONE_GPU, "scaling": replicas(1, 3)})}),
    # under KAI, non-preemptible replicas get only in-quota GPUs
    "kai-held": ({"scheduler": KAI}, {"team": ({"gpus": 1}, {"overQuota": {"gpuLimit": 4}})},
                 {"w": ("team", {**ONE_GPU, "scaling": replicas(1, 3)})}),
    "kai-preemptible": ({"scheduler": KAI}, {"team": ({"gpus": 1}, {"overQuota": {"gpuLimit": 4}})},
                        {"w": ("team", {**ONE_GPU, "scaling": replicas(1, 3),
                                        "scheduling": {"nodePools": ["l40s"], "preemptible": True}})}),
}


@pytest.fixture(scope="module")
def misuse_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("scheduling-misuse") / "repo")
    for env, (spec, projects, workloads) in SCENARIOS.items():
        add_environment(root, env, spec)
        for project, (quota, rest) in projects.items():
            add_project(root, env, project, quota, **rest)
        for name, (project, workload) in workloads.items():
            add_workload(root, env, project, name, workload)
    return root


@pytest.fixture(scope="module")
def diagnostics(misuse_repo: Path) -> dict[str, list[Diagnostic]]:
    return diagnostics_by_environment(misuse_repo, SCENARIOS)


def position(root: Path, file: str, *path: str | int) -> tuple[int, int]:
    """The 1-based line and column where the value at `path` is written in a file a test wrote."""
    node = yaml.compose((root / file).read_text())
    for key in path:
        if isinstance(key, int):
            node = node.value[key]
        else:
            (node,) = [v for k, v in node.value if k.value == key]
    return node.start_mark.line + 1, node.start_mark.column + 1


def workload_file(env: str, name: str) -> str:
    return f"environments/{env}/workloads/{name}.yaml"


def assert_at(d: Diagnostic, root: Path, file: str, *path: str | int) -> None:
    """The diagnostic names the file, the dotted path and the line and column of that value."""
    dotted = ".".join(f"[{k}]" if isinstance(k, int) else k for k in path).replace(".[", "[")
    assert (d.file, d.path) == (file, dotted), d.text()
    assert (d.line, d.column) == position(root, file, *path), d.text()


# -- GPU shares


def test_a_share_without_kai_is_refused_at_the_share(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "share-no-kai")
    assert_at(error, misuse_repo, workload_file("share-no-kai", "w"), "spec", "compute", "gpuFraction")
    assert "KAI scheduler" in error.message and "default scheduler" in error.message and "share-no-kai" in error.message
    assert "scheduler.name: kai" in error.hint


def test_a_share_of_a_profile_needing_two_gpus_is_refused_at_the_pinned_profile(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "share-tp2")
    assert_at(error, misuse_repo, workload_file("share-tp2", "w"), "spec", "profile", "name")
    assert "vllm-bf16-tp2" in error.message
    assert "needs 2 GPUs, a GPU share is part of one GPU" in error.message


def test_a_share_too_small_for_the_models_weights_is_refused_with_both_sizes(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "share-small")
    assert_at(error, misuse_repo, workload_file("share-small", "w"), "spec", "profile", "name")
    # 8B x 2 bytes = 16 GB of weights; 0.1 x 48Gi (51.5 GB) = 5.2 GB, 90% of it usable for weights
    assert "node pool 'l40s'" in error.message and "weights need ~16 GB per GPU at fp16/tp1" in error.message
    assert "0.1 of pool 'l40s' GPUs (51.5 GB) is 5.2 GB" in error.message


def test_a_memory_share_too_small_for_the_models_weights_is_refused_whatever_the_pool(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "share-small-memory")
    assert_at(error, misuse_repo, workload_file("share-small-memory", "w"), "spec", "profile", "name")
    # 8Gi is 8.6 GB, 7.7 GB of it usable for 16 GB of weights
    assert "weights need ~16 GB per GPU" in error.message and "the GPU memory share is 8.6 GB" in error.message


def test_a_share_on_a_pool_that_declares_no_gpu_memory_is_refused(diagnostics, misuse_repo):
    found = errors(diagnostics, "share-no-memory")
    # a fraction of it and an amount of its memory: neither can be checked against the profile
    assert sorted(d.file for d in found) == [workload_file("share-no-memory", name) for name in ("w", "x")]
    for error in found:
        assert_at(error, misuse_repo, error.file, "spec", "profile", "name")
        assert "pool 'l40s' declares no gpu.memory" in error.message and "GPU share" in error.message


def test_a_share_for_a_tensorrt_llm_profile_is_refused_for_want_of_a_memory_bound(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "share-trt")
    assert_at(error, misuse_repo, workload_file("share-trt", "w"), "spec", "profile", "name")
    assert "tensorrt_llm-l40s-bf16-tp1-throughput" in error.message
    assert "engine tensorrt_llm has no NIM setting that bounds its GPU memory" in error.message
    assert "vllm" in error.message                     # what can take a share


def test_a_memory_share_on_pools_of_different_gpu_sizes_is_refused(diagnostics):
    # NIM's bound is one fraction of the GPU: 20Gi is 0.25 of an 80Gi GPU but 12Gi of a 48Gi one, below the
    # model's weights; the share must name pools of one GPU size
    found = errors(diagnostics, "share-mixed-pools")
    assert [d.file for d in found] == [workload_file("share-mixed-pools", "w")]
    assert found[0].path == "spec.compute.gpuMemory"
    assert "l40s 48Gi" in found[0].message and "gpuFraction" in found[0].hint


# -- departments


def test_a_project_limit_above_its_departments_is_a_warning_under_kai_only(diagnostics, misuse_repo):
    (warning,) = diagnostics["dept-limit"]
    assert warning.severity == "warning"
    assert_at(warning, misuse_repo, "environments/dept-limit/projects/a.yaml", "spec", "overQuota", "gpuLimit")
    assert "limit of 8 GPUs, above its department ai's limit of 6" in warning.message
    assert diagnostics["dept-limit-plain"] == []


def test_projects_guaranteed_more_gpus_than_their_department_are_an_error_at_its_quota(diagnostics, misuse_repo):
    env_file = "environments/dept-over/environment.yaml"
    (error,) = [d for d in errors(diagnostics, "dept-over") if d.path.endswith(".gpus")]
    assert_at(error, misuse_repo, env_file, "spec", "departments", 0, "quota", "gpus")
    assert "department ai are guaranteed 5 GPUs, its quota is 4" in error.message
    # each project with its share and where it is set
    for project, gpus in (("a", 3), ("b", 2)):
        file = f"environments/dept-over/projects/{project}.yaml"
        line, _ = position(misuse_repo, file, "spec", "quota")
        assert f"{project} {gpus} ({file}:{line})" in error.hint
    assert "quota.gpus" in error.hint


def test_projects_guaranteed_more_cpu_than_their_department_are_an_error_at_its_cpu_quota(diagnostics, misuse_repo):
    env_file = "environments/dept-over/environment.yaml"
    (error,) = [d for d in errors(diagnostics, "dept-over") if d.path.endswith(".cpu")]
    assert_at(error, misuse_repo, env_file, "spec", "departments", 0, "quota", "cpu")
    assert "department ai are guaranteed 10 cpu, its quota is 8" in error.message
    assert "a 4 (" in error.hint and "b 6 (" in error.hint and "quota.cpu" in error.hint
    assert len(errors(diagnostics, "dept-over")) == 2


def test_a_project_naming_an_unknown_department_is_an_error_at_its_department(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "dept-unknown")
    assert_at(error, misuse_repo, "environments/dept-unknown/projects/team.yaml", "spec", "department")
    assert "unknown department 'ai-platfrom'" in error.message and "dept-unknown" in error.message
    assert "ai-platform" in error.hint


# -- capacity of sized pools


def test_replicas_that_do_not_fit_the_pool_at_min_replicas_are_an_error(diagnostics, misuse_repo):
    (error,) = diagnostics["pool-min"]
    assert error.severity == "error"
    assert_at(error, misuse_repo, workload_file("pool-min", "wide"), "spec", "scaling", "minReplicas")
    # one node of 4 GPUs holds two replicas of 2
    assert "node pool l40s (1 x 4 GPUs)" in error.message and "2 of its 3 guaranteed replicas fit" in error.message
    assert "nodes" in error.hint and "minReplicas" in error.hint


def test_replicas_that_do_not_fit_the_pool_at_max_replicas_are_a_warning(diagnostics, misuse_repo):
    (warning,) = diagnostics["pool-max"]
    assert warning.severity == "warning"
    assert_at(warning, misuse_repo, workload_file("pool-max", "wide"), "spec", "scaling", "maxReplicas")
    assert "may not reach maxReplicas" in warning.message and "holds 2 of its 3 replicas at peak" in warning.message
    assert "pending" in warning.message


def test_gpu_shares_are_packed_onto_the_pools_gpus(diagnostics, misuse_repo):
    (error,) = diagnostics["pool-shares"]
    assert error.severity == "error"
    assert_at(error, misuse_repo, workload_file("pool-shares", "halves"), "spec", "scaling", "minReplicas")
    assert "node pool l40s (1 x 1 GPUs)" in error.message and "2 of its 3 guaranteed replicas fit" in error.message


def test_replicas_that_exactly_fill_the_pool_are_silent(diagnostics):
    assert diagnostics["pool-at"] == []


# -- priorities and preemption


def test_a_priority_the_environment_does_not_list_is_an_error_at_the_workloads_priority(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "priority-unknown")
    assert_at(error, misuse_repo, workload_file("priority-unknown", "w"), "spec", "scheduling", "priority")
    assert "unknown priority 'urgent'" in error.message and "priority-unknown" in error.message
    assert "serving" in error.hint                       # the levels it may name


def test_a_default_priority_the_environment_does_not_list_is_an_error_at_the_environment(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "default-unknown")
    env_file = "environments/default-unknown/environment.yaml"
    assert_at(error, misuse_repo, env_file, "spec", "scheduler", "defaultPriority")
    assert "unknown priority 'servng'" in error.message and "serving" in error.hint


def test_preemptible_under_the_default_scheduler_is_an_error_at_preemptible(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "preempt-default")
    assert_at(error, misuse_repo, workload_file("preempt-default", "w"), "spec", "scheduling", "preemptible")
    assert "preemptible needs the KAI scheduler" in error.message and "default scheduler" in error.message
    assert "priority" in error.hint


# -- spread


def test_spread_under_kai_is_an_error_at_the_spread(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "spread-kai")
    assert_at(error, misuse_repo, workload_file("spread-kai", "w"), "spec", "scheduling", "spread")
    assert "KAI scheduler" in error.message and "ignores topology spread constraints" in error.message
    assert "drop spread" in error.hint


# -- CPU and memory against the project's quota


def test_cpu_over_the_quota_at_min_replicas_is_an_error_at_min_replicas(diagnostics, misuse_repo):
    (error,) = errors(diagnostics, "cpu-over")
    assert_at(error, misuse_repo, workload_file("cpu-over", "w"), "spec", "scaling", "minReplicas")
    assert "project team needs 8 CPU at minReplicas, its quota is 6 CPU" in error.message
    assert "2 x 4 CPU of its own" in error.hint
    # the ResourceQuota refuses pods past it: the peak (the same 2 replicas) is over too
    (warning,) = warnings(diagnostics, "cpu-over")
    assert warning.path == "spec.scaling.maxReplicas" and "refused by the namespace's ResourceQuota" in warning.message


def test_the_cpu_quota_hint_names_the_field_a_user_raises(diagnostics):
    (error,) = errors(diagnostics, "cpu-over")
    assert "raise spec.quota.cpu of the project" in error.hint


def test_memory_over_the_quota_only_at_peak_is_a_warning_at_max_replicas(diagnostics, misuse_repo):
    assert errors(diagnostics, "memory-peak") == []      # 1 x 32Gi fits 64Gi
    (warning,) = warnings(diagnostics, "memory-peak")
    assert_at(warning, misuse_repo, workload_file("memory-peak", "w"), "spec", "scaling", "maxReplicas")
    assert "may reach 96Gi of memory at maxReplicas" in warning.message and "limit of 64Gi" in warning.message
    assert "spec.quota.memory" in warning.hint


def test_under_kai_non_preemptible_replicas_over_the_gpu_quota_are_a_warning(diagnostics, misuse_repo):
    assert errors(diagnostics, "kai-held") == []
    (warning,) = warnings(diagnostics, "kai-held")       # 3 GPUs fit the limit of 4, not the quota of 1
    assert_at(warning, misuse_repo, workload_file("kai-held", "w"), "spec", "scaling", "maxReplicas")
    assert "with non-preemptible replicas may reach 3 GPUs" in warning.message and "quota of 1" in warning.message
    assert "preemptible" in warning.hint


def test_under_kai_preemptible_replicas_may_borrow_past_the_quota_silently(diagnostics):
    assert diagnostics["kai-preemptible"] == []
