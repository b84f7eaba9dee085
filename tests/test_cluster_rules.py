"""The cluster rules of verify: nimgen's own output passes them all, and each refuses the broken form of one
thing a cluster would not run as intended (issue 7, items 1-12), naming the rule and the inputs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import pytest
import yaml

from conftest import PROJECT, make_repo, run
from nimgen.verify.cluster_rules import RULES, EnvironmentFacts, check
from nimgen.output.read import out_manifests

Files = dict[str, tuple[str, list[dict]]]
FACTS = {"dev": EnvironmentFacts("dev", "istio-system", "0.20"), "staging": EnvironmentFacts("staging", "istio-system", "0.20"),
         "prod": EnvironmentFacts("prod", "istio-system", "0.20")}


@pytest.fixture(scope="module")
def rendered(built_once: Path) -> dict[str, Files]:
    return {env: {rel: (m.text, m.objects) for rel, m in files.items()} for env, files in out_manifests(built_once).items()}


def violations(files: Files, env: str, facts: EnvironmentFacts | None = None) -> list[str]:
    return [d.message for d in check(files, facts or FACTS[env], f"out/{env}")]


def broken(rendered: dict[str, Files], env: str, kind: str, name: str, change: Callable[[dict], object]) -> Files:
    files = copy.deepcopy(rendered[env])
    hits = [o for _, objs in files.values() for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind} {name} not in out/{env}"
    change(hits[0])
    return files


def dropped(rendered: dict[str, Files], env: str, kind: str, name: str) -> Files:
    files = copy.deepcopy(rendered[env])
    return {rel: (text, [o for o in objs if not (o["kind"] == kind and o["metadata"]["name"] == name)])
            for rel, (text, objs) in files.items()}


def test_nimgen_output_passes_every_rule(rendered):
    for env, files in rendered.items():
        assert violations(files, env) == []


def only(found: list[str], rule: str) -> None:
    assert found and all(f"[{rule}]" in message for message in found), found


# 1, 11: a policy no proxy enforces; a namespace that enforces no Pod Security level


def test_istio_policies_in_a_namespace_without_injection_are_refused(rendered):
    files = broken(rendered, "prod", "Namespace", "chat", lambda o: o["metadata"]["labels"].pop("istio.io/rev"))
    found = violations(files, "prod")
    only(found, "istio-policy-without-proxy")
    assert {m.split(" ")[1] for m in found} == {"RequestAuthentication", "AuthorizationPolicy", "PeerAuthentication"}


def test_a_namespace_without_pod_security_labels_is_refused(rendered):
    files = broken(rendered, "staging", "Namespace", "research",
                   lambda o: o["metadata"]["labels"].pop("pod-security.kubernetes.io/enforce"))
    only(violations(files, "staging"), "namespace-without-pod-security")


# 2: a cluster-local InferenceService still gets an external route


def test_an_unreachable_inference_service_without_the_cluster_local_label_is_refused(rendered):
    files = broken(rendered, "staging", "InferenceService", "llama-8b-batch",
                   lambda o: o["metadata"]["labels"].pop("networking.kserve.io/visibility"))
    only(violations(files, "staging"), "cluster-local-label")


def test_an_exposed_inference_service_whose_policy_admits_other_pods_of_the_gateway_namespace_is_refused(rendered):
    gateway = EnvironmentFacts("staging", "istio-system", "0.20", (("istio", "ingressgateway"),))
    assert violations(rendered["staging"], "staging", gateway) == []
    def other_pods(o: dict) -> None:
        for rule in o["spec"]["ingress"]:
            for peer in rule["from"]:
                if peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "istio-system"}:
                    peer["podSelector"] = {"matchLabels": {"istio": "egressgateway"}}
    found = violations(broken(rendered, "staging", "NetworkPolicy", "llama-8b-chat-ingress", other_pods), "staging", gateway)
    only(found, "cluster-local-label")


# 3, 4: metrics nobody scrapes; a scrape the mesh refuses


def test_an_autoscaler_without_a_scrape_behind_its_metric_is_refused(rendered):
    only(violations(dropped(rendered, "prod", "PodMonitor", "llama-8b-chat"), "prod"), "metric-without-scrape")


def test_a_query_on_a_label_the_scrape_does_not_set_is_refused(rendered):
    def service_label(o: dict) -> None:
        meta = o["spec"]["triggers"][0]["metadata"]
        meta["query"] = meta["query"].replace('inferenceservice="llama-8b-chat"', 'service="llama-8b-chat-predictor"')
    found = violations(broken(rendered, "prod", "ScaledObject", "llama-8b-chat", service_label), "prod")
    only(found, "metric-without-scrape")
    assert "label 'service'" in found[0]


def test_a_metrics_rule_that_needs_mtls_is_refused(rendered):
    def by_namespace(o: dict) -> None:
        o["spec"]["rules"][1]["from"] = [{"source": {"namespaces": ["monitoring"]}}]
    only(violations(broken(rendered, "prod", "AuthorizationPolicy", "llama-8b-chat-access", by_namespace), "prod"),
         "scrape-blocked-by-mesh")


def test_a_meshed_scrape_port_that_is_not_permissive_is_refused(rendered):
    only(violations(dropped(rendered, "prod", "PeerAuthentication", "llama-8b-chat-plaintext-ports"), "prod"),
         "scrape-blocked-by-mesh")


def test_a_scrape_of_a_port_name_knative_pods_do_not_have_is_refused(rendered):
    # Knative renames the serving port to user-port: the name the Service spec gives it matches no pod port
    def by_service_name(o: dict) -> None:
        o["spec"]["podMetricsEndpoints"][0]["port"] = "http1"
    found = violations(broken(rendered, "dev", "PodMonitor", "llama-8b-chat", by_service_name), "dev")
    only(found, "scrape-port-not-in-pod")
    assert "'http1'" in found[0]


def test_a_scrape_of_a_port_name_standard_pods_do_not_have_is_refused(rendered):
    def knative_name(o: dict) -> None:
        o["spec"]["podMetricsEndpoints"][0]["port"] = "user-port"
    only(violations(broken(rendered, "staging", "PodMonitor", "llama-8b-chat", knative_name), "staging"),
         "scrape-port-not-in-pod")


# 5: a latency compared as an average


def test_a_latency_trigger_compared_as_an_average_is_refused(rendered):
    def averaged(o: dict) -> None:
        o["spec"]["triggers"][0].pop("metricType")
        # an AverageValue trigger needs KEDA's fallback (average-trigger-without-fallback otherwise)
        o["spec"]["fallback"] = {"failureThreshold": 3, "replicas": o["spec"]["minReplicaCount"],
                                 "behavior": "currentReplicasIfHigher"}
    only(violations(broken(rendered, "prod", "ScaledObject", "llama-70b-chat", averaged), "prod"), "latency-as-average")


# 6: scale to zero that never wakes


def test_scale_to_zero_without_a_waking_path_is_refused(rendered):
    only(violations(dropped(rendered, "staging", "HTTPScaledObject", "llama-8b-batch"), "staging"),
         "scale-to-zero-without-waking")
    files = broken(rendered, "prod", "ScaledObject", "llama-8b-chat", lambda o: o["spec"].update(minReplicaCount=0))
    only(violations(files, "prod"), "scale-to-zero-without-waking")


# 7: the Knative data path


def test_a_network_policy_that_blocks_the_queue_proxy_is_refused(rendered):
    def nim_port_only(o: dict) -> None:
        for r in o["spec"]["ingress"]:
            r["ports"] = [{"port": 8000, "protocol": "TCP"}]
    only(violations(broken(rendered, "dev", "NetworkPolicy", "llama-8b-chat-ingress", nim_port_only), "dev"),
         "knative-data-path-blocked")


# 8: a warm-up that is neither ordered nor re-appliable


def warmup_job(rendered: dict[str, Files]) -> str:
    return next(o["metadata"]["name"] for _, objs in rendered["prod"].values() for o in objs if o["kind"] == "Job")


WARMUP_BREAKS = {
    # the first round's form: a PreSync hook mounts a claim applied later, and runs on every sync
    "a hook": (lambda o: o["metadata"].update(annotations={"argocd.argoproj.io/hook": "PreSync"}), "Argo CD hook"),
    "wave 0": (lambda o: o["metadata"].pop("annotations"), "not in a sync wave before"),
    "no deadline": (lambda o: o["spec"].pop("activeDeadlineSeconds"), "no activeDeadlineSeconds"),
    "a TTL": (lambda o: o["spec"].update(ttlSecondsAfterFinished=600), "ttlSecondsAfterFinished"),
}


@pytest.mark.parametrize("form", sorted(WARMUP_BREAKS))
def test_a_warmup_job_that_is_not_ordered_or_not_reappliable_is_refused(rendered, form):
    change, said = WARMUP_BREAKS[form]
    found = violations(broken(rendered, "prod", "Job", warmup_job(rendered), change), "prod")
    only(found, "job-not-ordered-or-reappliable")
    assert said in found[0]


def test_a_warmup_claim_in_an_earlier_wave_than_its_job_is_refused(rendered):
    # a WaitForFirstConsumer claim stays Pending (progressing) until the Job's pod mounts it: a wave of its own
    # before the Job's would never become healthy
    files = broken(rendered, "prod", "PersistentVolumeClaim", "llama-70b-chat-nim-cache",
                   lambda o: o["metadata"]["annotations"].update({"argocd.argoproj.io/sync-wave": "-2"}))
    found = violations(files, "prod")
    only(found, "job-not-ordered-or-reappliable")
    assert "from wave -2" in found[0]


def test_a_warmup_job_served_with_the_workload_is_refused(rendered):
    files = copy.deepcopy(rendered["prod"])
    text, prepared = files.pop("prepare/chat/llama-70b-chat.yaml")
    served_text, served = files["serve/chat/llama-70b-chat.yaml"]
    files["serve/chat/llama-70b-chat.yaml"] = (served_text, served + prepared)
    found = violations(files, "prod")
    only(found, "job-not-ordered-or-reappliable")
    assert "not in out/<env>/prepare/" in found[0]


# 9, 10: GPU rollouts that surge; a start-up window beyond the progress deadline


def test_a_gpu_rollout_that_may_surge_is_refused(rendered):
    files = broken(rendered, "prod", "InferenceService", "llama-70b-chat",
                   lambda o: o["spec"]["predictor"].pop("deploymentStrategy"))
    only(violations(files, "prod"), "gpu-rollout-surges")


def slower_start(rendered: dict[str, Files], failure_threshold: int) -> Files:
    """prod's llama-70b-chat with a start-up probe of failure_threshold x 10 s, and its ScaledObject's scale-up
    paced to match (autoscaler-without-scale-up-limit otherwise)."""
    files = broken(rendered, "prod", "InferenceService", "llama-70b-chat",
                   lambda o: o["spec"]["predictor"]["containers"][0]["startupProbe"].update(failureThreshold=failure_threshold))
    (scaled,) = [o for o in files["serve/chat/llama-70b-chat.yaml"][1] if o["kind"] == "ScaledObject"]
    for policy in scaled["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]["policies"]:
        policy["periodSeconds"] = failure_threshold * 10
    return files


def test_a_startup_window_beyond_the_progress_deadline_is_refused(rendered):
    only(violations(slower_start(rendered, 180), "prod"), "startup-beyond-progress-deadline")     # thirty minutes


def test_a_standard_startup_window_that_leaves_no_time_to_pull_the_image_is_refused(rendered):
    # 60 x 10s: the whole 600s, nothing left for scheduling and the pull
    only(violations(slower_start(rendered, 60), "prod"), "startup-beyond-progress-deadline")


# 11: pods outside Pod Security restricted


def test_a_pod_without_a_seccomp_profile_is_refused(rendered):
    files = broken(rendered, "prod", "InferenceService", "llama-70b-chat",
                   lambda o: o["spec"]["predictor"]["securityContext"].pop("seccompProfile"))
    found = violations(files, "prod")
    only(found, "pod-security-restricted")
    assert "seccomp" in found[0]


# 12: a mode the environment's KServe does not know


def test_a_mode_kserve_015_does_not_know_is_refused(rendered):
    found = violations(rendered["staging"], "staging", EnvironmentFacts("staging", "istio-system", "0.15"))
    only(found, "deployment-mode-unknown-to-kserve")


def test_queue_limit_below_quota_is_refused(rendered):
    files = broken(rendered, "prod", "Queue", "research", lambda o: o["spec"]["resources"]["gpu"].update(limit=2))
    only(violations(files, "prod"), "queue-limit-below-quota")


def test_a_cache_claim_mounted_by_several_replicas_must_be_read_write_many(rendered):
    files = broken(rendered, "prod", "PersistentVolumeClaim", "llama-8b-chat-nim-cache",
                   lambda o: o["spec"].update(accessModes=["ReadWriteOnce"]))
    only(violations(files, "prod"), "shared-claim-not-read-write-many")
    single = broken(rendered, "prod", "InferenceService", "llama-8b-chat",
                    lambda o: o["spec"]["predictor"].update(minReplicas=1, maxReplicas=1))
    (claim,) = [o for o in single["serve/chat/llama-8b-chat.yaml"][1] if o["kind"] == "PersistentVolumeClaim"]
    claim["spec"]["accessModes"] = ["ReadWriteOnce"]    # one replica: one node
    assert violations(single, "prod") == []


def test_a_knative_rollout_onto_a_read_write_once_cache_claim_is_refused(rendered):
    # one replica, but Knative starts the new revision's pod before the old one lets go of the volume
    files = copy.deepcopy(rendered["dev"])
    (isvc,) = [o for o in files["serve/chat/llama-8b-chat.yaml"][1] if o["kind"] == "InferenceService"]
    assert isvc["spec"]["predictor"]["maxReplicas"] == 1
    (claim,) = [o for o in files["serve/chat/llama-8b-chat.yaml"][1] if o["kind"] == "PersistentVolumeClaim"]
    claim["spec"]["accessModes"] = ["ReadWriteOnce"]
    found = violations(files, "dev")
    only(found, "shared-claim-not-read-write-many")
    assert "up to 2 pods" in found[0]


def test_a_nim_cache_in_a_read_only_download_is_refused(rendered):
    # staging's llama-8b-batch reads a storage URI: NIM_CACHE_PATH is the initializer's download
    files = broken(rendered, "staging", "InferenceService", "llama-8b-batch",
                   lambda o: o["metadata"]["annotations"].pop("storage.kserve.io/readonly"))
    only(violations(files, "staging"), "uri-cache-read-only")


def test_a_scaled_from_zero_workload_its_own_namespace_reaches_past_the_interceptor_is_refused(rendered):
    def own_namespace(o: dict) -> None:
        o["spec"]["ingress"][-1]["from"].append({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "research"}}})
    found = violations(broken(rendered, "staging", "NetworkPolicy", "llama-8b-batch-ingress", own_namespace), "staging")
    only(found, "http-add-on-bypassed")


def test_a_latency_query_that_reads_nan_when_idle_is_refused(rendered):
    def bare_quantile(o: dict) -> None:
        meta = o["spec"]["triggers"][0]["metadata"]
        meta["query"] = meta["query"].removeprefix("((").split(") >= 0)")[0]
        assert meta["query"].startswith("histogram_quantile")
    only(violations(broken(rendered, "prod", "ScaledObject", "llama-70b-chat", bare_quantile), "prod"),
         "idle-query-reads-nan")


def test_a_knative_wake_that_outlasts_the_request_timeout_is_refused(rendered):
    # dev's mistral-7b-eval scales to zero in Knative mode
    files = broken(rendered, "dev", "InferenceService", "mistral-7b-eval", lambda o: o["spec"]["predictor"].pop("timeout"))
    only(violations(files, "dev"), "wake-beyond-request-timeout")


def test_storage_uris_in_knative_mode_are_refused(rendered):
    def listed(o: dict) -> None:
        predictor = o["spec"]["predictor"]
        (container,) = predictor["containers"]
        (uri,) = [e["value"] for e in container["env"] if e["name"] == "STORAGE_URI"]
        predictor["storageUris"] = [{"uri": uri, "mountPath": "/mnt/models"}]
    only(violations(broken(rendered, "dev", "InferenceService", "llama-8b-batch", listed), "dev"),
         "knative-init-container-refused")


def test_a_privileged_namespace_without_sidecar_injection_is_refused(rendered):
    # staging's sidecar mesh runs without CNI (mesh.podSecurity: privileged): drop the injection, keep the level
    files = broken(rendered, "staging", "Namespace", "chat", lambda o: o["metadata"]["labels"].pop("istio-injection"))
    rule = "privileged-without-reason"      # (the policies of the namespace lose their proxy too)
    assert any(f"[{rule}]" in m for m in violations(files, "staging"))


# issue 14: the KAI and quota contracts of the rendered objects, each broken by hand


@pytest.fixture(scope="module")
def committed() -> dict[str, Files]:
    """The committed out/ of the example environments, which has what the test repository lacks: GPU shares
    (prod's llama-8b-summarize, gpu-fraction; mistral-7b-drafts, gpu-memory) and a department's parent queue."""
    return {env: {rel: (m.text, m.objects) for rel, m in files.items()} for env, files in out_manifests(PROJECT).items()}


def located(files: Files, env: str) -> list[tuple[str, str, str]]:
    """(file, path in it, message) of each violation (an environment the examples gained later has the defaults)."""
    facts = FACTS.get(env, EnvironmentFacts(env, "istio-system", "0.20"))
    return [(d.file, d.path, d.message) for d in check(files, facts, f"out/{env}")]


def predictor(o: dict) -> dict:
    return o["spec"]["predictor"]


def whole_gpu(o: dict) -> None:
    predictor(o)["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "1"


def init_container_gpu(o: dict) -> None:
    restricted = copy.deepcopy(predictor(o)["containers"][0]["securityContext"])
    predictor(o)["initContainers"] = [{"name": "warm", "image": "busybox", "securityContext": restricted,
                                       "resources": {"limits": {"nvidia.com/gpu": "1"}}}]


SHARE_BREAKS = {
    # (what the hand edit does, the path it is reported at, what the message says)
    "a whole GPU beside the share": (whole_gpu, "spec.predictor.containers[0].resources",
                                     "container kserve-container limits nvidia.com/gpu too"),
    "a whole GPU in an init container": (init_container_gpu, "spec.predictor.initContainers[0].resources",
                                         "container warm limits nvidia.com/gpu too"),
    "gpu-memory with gpu-fraction": (lambda o: predictor(o)["annotations"].update({"gpu-memory": "24576"}),
                                     "spec.predictor.annotations", "both gpu-fraction and gpu-memory"),
    "no container named": (lambda o: predictor(o)["annotations"].pop("gpu-fraction-container-name"),
                           "spec.predictor.annotations", "the pod's first container, which may be Istio's proxy"),
    "an unknown container named": (lambda o: predictor(o)["annotations"].update({"gpu-fraction-container-name": "istio-proxy"}),
                                   "spec.predictor.annotations", "for container istio-proxy, which its pods do not have"),
}


@pytest.mark.parametrize("form", sorted(SHARE_BREAKS))
def test_a_gpu_share_kai_would_refuse_or_misplace_is_refused(committed, form):
    change, path, said = SHARE_BREAKS[form]
    files = broken(committed, "prod", "InferenceService", "llama-8b-summarize", change)
    found = located(files, "prod")
    only([m for _, _, m in found], "gpu-share-with-device-request")
    assert found == [("out/prod/serve/chat/llama-8b-summarize.yaml", path, found[0][2])]
    assert "InferenceService llama-8b-summarize" in found[0][2] and said in found[0][2]


def test_the_gpu_shares_of_the_examples_pass(committed):
    shares = {o["metadata"]["name"]: predictor(o)["annotations"] for _, objs in committed["prod"].values() for o in objs
              if o["kind"] == "InferenceService" and {"gpu-fraction", "gpu-memory"} & set(predictor(o).get("annotations", {}))}
    assert set(shares) == {"llama-8b-summarize", "mistral-7b-drafts"}
    assert {a["gpu-fraction-container-name"] for a in shares.values()} == {"kserve-container"}
    assert located(committed["prod"], "prod") == []


def test_a_queue_whose_parent_is_missing_is_refused(committed):
    found = located(dropped(committed, "prod", "Queue", "ai-platform"), "prod")
    only([m for _, _, m in found], "queue-parent-missing")
    assert [(f, p) for f, p, _ in found] == [("out/prod/prepare/cluster/queues.yaml", "spec.parentQueue")] * 2
    assert {m.split(" ")[2] for _, _, m in found} == {"chat:", "research:"}
    assert "its parent queue ai-platform is no Queue of environment prod" in found[0][2]


def test_pods_in_a_parent_queue_are_refused(committed):
    def in_the_department(o: dict) -> None:
        predictor(o)["labels"]["kai.scheduler/queue"] = "ai-platform"
    found = located(broken(committed, "prod", "InferenceService", "llama-8b-chat", in_the_department), "prod")
    only([m for _, _, m in found], "queue-parent-missing")
    assert found == [("out/prod/serve/chat/llama-8b-chat.yaml", "spec.predictor.labels",
                      "[queue-parent-missing] InferenceService llama-8b-chat puts its pods in queue ai-platform, a "
                      "parent of other queues: KAI schedules pods only in leaf queues")]


def test_queues_under_a_department_and_without_one_pass(rendered, committed):
    parents = {o["spec"].get("parentQueue") for _, objs in committed["prod"].values() for o in objs if o["kind"] == "Queue"}
    assert parents == {None, "ai-platform"}          # the department, and its two projects
    assert located(committed["prod"], "prod") == []
    assert located(rendered["prod"], "prod") == []    # the test repository's queues have no parent


def test_an_extended_resource_the_namespace_quota_does_not_count_is_refused(rendered):
    # staging's research quota counts GPUs and MIG slices; llama-8b-batch asks for one 3g.40gb slice
    files = broken(rendered, "staging", "ResourceQuota", "research-quota",
                   lambda o: o["spec"]["hard"].pop("requests.nvidia.com/mig-3g.40gb"))
    found = located(files, "staging")
    only([m for _, _, m in found], "quota-misses-requested-resource")
    assert found == [("out/staging/serve/research/llama-8b-batch.yaml", "spec.predictor.containers[0].resources",
                      "[quota-misses-requested-resource] InferenceService llama-8b-batch requests nvidia.com/mig-3g.40gb, "
                      "which ResourceQuota research-quota of namespace research does not count (no "
                      "requests.nvidia.com/mig-3g.40gb): the namespace may hold any number of them")]


def test_extended_resources_the_quotas_count_pass(rendered, committed):
    files = rendered["staging"]
    (batch,) = [o for o in files["serve/research/llama-8b-batch.yaml"][1] if o["kind"] == "InferenceService"]
    assert "nvidia.com/mig-3g.40gb" in predictor(batch)["containers"][0]["resources"]["limits"]
    assert located(files, "staging") == []
    assert all(located(committed[env], env) == [] for env in committed)


# issue 15: LoRA adapters, licensed images, KEDA's fallback and the scale-up pace, each broken by hand in the
# examples' out/ (staging serves LoRA adapters from a claim and scales on an HPA; prod pulls from a mirror with
# the pull Secret corp-registry, warms llama-70b-chat's cache and scales on KEDA)


def container(o: dict) -> dict:
    return predictor(o)["containers"][0]


def peft_source(o: dict) -> dict:
    (found,) = [e for e in container(o)["env"] if e["name"] == "NIM_PEFT_SOURCE"]
    return found


def without_lora_mount(o: dict) -> None:
    container(o)["volumeMounts"] = [m for m in container(o)["volumeMounts"] if m["mountPath"] != "/opt/nim/loras"]


def test_a_lora_source_without_a_volume_is_refused(committed):
    (isvc,) = [o for o in committed["staging"]["serve/chat/llama-8b-chat.yaml"][1] if o["kind"] == "InferenceService"]
    assert peft_source(isvc)["value"] == "/opt/nim/loras"
    at = container(isvc)["env"].index(peft_source(isvc))
    found = located(broken(committed, "staging", "InferenceService", "llama-8b-chat", without_lora_mount), "staging")
    only([m for _, _, m in found], "lora-source-without-volume")
    assert [(f, p) for f, p, _ in found] == [("out/staging/serve/chat/llama-8b-chat.yaml", f"spec.predictor.containers[0].env[{at}]")]
    assert "reads LoRA adapters from /opt/nim/loras" in found[0][2]
    # a directory beside the mount whose name merely starts with the mount's is not under it
    beside = broken(committed, "staging", "InferenceService", "llama-8b-chat",
                    lambda o: peft_source(o).update(value="/opt/nim/loras-old"))
    only(violations(beside, "staging"), "lora-source-without-volume")


def in_the_download(o: dict) -> None:
    without_lora_mount(o)
    predictor(o)["storageUris"] = [{"uri": "s3://adapters/llama-3.1-8b", "mountPath": "/mnt/loras"}]
    peft_source(o)["value"] = "/mnt/loras"


LORA_SOURCES_THAT_PASS = {
    "below the claim's mount": lambda o: peft_source(o).update(value="/opt/nim/loras/team-a/"),
    "in a storage URI's download": in_the_download,
    "a URL, no volume": lambda o: (without_lora_mount(o),
                                   peft_source(o).update(value="http://nemo-entity-store.nemo.svc:8000")),
}


@pytest.mark.parametrize("form", sorted(LORA_SOURCES_THAT_PASS))
def test_a_lora_source_in_a_volume_a_download_or_at_a_url_passes(committed, form):
    assert violations(committed["staging"], "staging") == []
    files = broken(committed, "staging", "InferenceService", "llama-8b-chat", LORA_SOURCES_THAT_PASS[form])
    assert violations(files, "staging") == []


PULL_SECRET_BREAKS = {
    # (kind, name, the pod spec, its path)
    "the server": ("InferenceService", "llama-8b-chat", predictor, "spec.predictor",
                   "out/prod/serve/chat/llama-8b-chat.yaml"),
    "the warm-up Job": ("Job", "", lambda o: o["spec"]["template"]["spec"], "spec.template.spec",
                        "out/prod/prepare/chat/llama-70b-chat.yaml"),
}


@pytest.mark.parametrize("form", sorted(PULL_SECRET_BREAKS))
def test_a_catalog_image_without_a_pull_secret_is_refused(committed, form):
    kind, name, pod, path, file = PULL_SECRET_BREAKS[form]
    name = name or next(o["metadata"]["name"] for _, objs in committed["prod"].values() for o in objs if o["kind"] == "Job")
    assert located(committed["prod"], "prod") == []
    files = broken(committed, "prod", kind, name, lambda o: pod(o).pop("imagePullSecrets"))
    found = located(files, "prod")
    only([m for _, _, m in found], "catalog-image-without-pull-secret")
    assert [(f, p) for f, p, _ in found] == [(file, path)]
    assert f"{kind} {name} pulls a licensed NIM image" in found[0][2]


def test_an_image_from_no_catalog_needs_no_pull_secret(committed):
    def own_image(o: dict) -> None:
        o["metadata"]["annotations"].pop("nimgen.dev/model")
        predictor(o).pop("imagePullSecrets")
    assert violations(broken(committed, "prod", "InferenceService", "llama-8b-chat", own_image), "prod") == []


def fallback(o: dict) -> dict:
    return o["spec"]["fallback"]


FALLBACK_BREAKS = {
    "none": (lambda o: o["spec"].pop("fallback"), "no fallback"),
    "none, metricType unset (KEDA's default AverageValue)":
        (lambda o: (o["spec"].pop("fallback"), o["spec"]["triggers"][0].pop("metricType")), "no fallback"),
    "static": (lambda o: fallback(o).update(behavior="static"), "behavior is static"),
    "no behavior (KEDA's default static)": (lambda o: fallback(o).pop("behavior"), "behavior is static"),
    "below minReplicaCount": (lambda o: fallback(o).update(replicas=1), "(1) are below its minReplicaCount (2)"),
}


@pytest.mark.parametrize("form", sorted(FALLBACK_BREAKS))
def test_an_average_trigger_without_a_safe_fallback_is_refused(committed, form):
    change, said = FALLBACK_BREAKS[form]
    found = violations(broken(committed, "prod", "ScaledObject", "llama-8b-chat", change), "prod")
    only(found, "average-trigger-without-fallback")
    assert "ScaledObject llama-8b-chat" in found[0] and said in found[0]


def test_a_value_trigger_needs_no_fallback(committed):
    # prod's llama-70b-chat scales on a latency, a Value: KEDA's fallback would divide by ready pods
    (scaled,) = [o for o in committed["prod"]["serve/chat/llama-70b-chat.yaml"][1] if o["kind"] == "ScaledObject"]
    assert "fallback" not in scaled["spec"] and {t["metricType"] for t in scaled["spec"]["triggers"]} == {"Value"}
    assert located(committed["prod"], "prod") == []
    # a cpu trigger is the metrics server's: KEDA's fallback does not cover it
    def cpu_too(o: dict) -> None:
        o["spec"]["triggers"].append({"type": "cpu", "metricType": "Utilization", "metadata": {"value": "80"}})
    assert violations(broken(committed, "prod", "ScaledObject", "llama-70b-chat", cpu_too), "prod") == []


def scale_up(o: dict) -> dict:
    return o["spec"]["behavior"]["scaleUp"] if o["kind"] == "HorizontalPodAutoscaler" else \
        o["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]


SCALE_UP_BREAKS = {
    # (kind, what the hand edit does, what the message says); both targets start within 42 x 10 s
    "a Percent policy": ("HorizontalPodAutoscaler", lambda o: scale_up(o)["policies"][0].update(type="Percent", value=100),
                         "adds 100 Percent per period"),
    "two pods per period": ("HorizontalPodAutoscaler", lambda o: scale_up(o)["policies"][0].update(value=2),
                            "adds 2 Pods per period"),
    "a second, faster policy": ("HorizontalPodAutoscaler",
                                lambda o: scale_up(o)["policies"].append({"type": "Pods", "value": 1, "periodSeconds": 15}),
                                "periodSeconds 15, shorter than the 420s start-up window of llama-8b-chat"),
    "a period shorter than the start": ("HorizontalPodAutoscaler",
                                        lambda o: scale_up(o)["policies"][0].update(periodSeconds=410),
                                        "periodSeconds 410, shorter than the 420s"),
    "no policies": ("HorizontalPodAutoscaler", lambda o: scale_up(o).pop("policies"), "no scale-up policies"),
    "HPA's default": ("HorizontalPodAutoscaler", lambda o: o["spec"].pop("behavior"), "no scale-up policies"),
    "KEDA's HPA's default": ("ScaledObject", lambda o: o["spec"].pop("advanced"), "no scale-up policies"),
    "a Percent policy through KEDA": ("ScaledObject", lambda o: scale_up(o)["policies"][0].update(type="Percent"),
                                      "adds 1 Percent per period"),
}


@pytest.mark.parametrize("form", sorted(SCALE_UP_BREAKS))
def test_an_autoscaler_that_adds_more_than_one_replica_per_start_window_is_refused(committed, form):
    kind, change, said = SCALE_UP_BREAKS[form]
    env = "staging" if kind == "HorizontalPodAutoscaler" else "prod"
    found = violations(broken(committed, env, kind, "llama-8b-chat", change), env)
    only(found, "autoscaler-without-scale-up-limit")
    assert f"{kind} llama-8b-chat may add more than one replica" in found[0] and said in found[0]


def test_a_disabled_or_min_scale_up_and_one_without_a_startup_probe_to_compare_pass(committed):
    disabled = broken(committed, "staging", "HorizontalPodAutoscaler", "llama-8b-chat",
                      lambda o: scale_up(o).update(selectPolicy="Disabled", policies=[{"type": "Percent", "value": 100,
                                                                                        "periodSeconds": 15}]))
    assert violations(disabled, "staging") == []
    assert violations(broken(committed, "staging", "HorizontalPodAutoscaler", "llama-8b-chat",
                             lambda o: scale_up(o).update(selectPolicy="Min")), "staging") == []
    # the window comes from the InferenceService's start-up probe: without one there is nothing to compare with
    def no_probe(o: dict) -> None:
        container(o).pop("startupProbe")
    files = broken(committed, "staging", "InferenceService", "llama-8b-chat", no_probe)
    (hpa,) = [o for o in files["serve/chat/llama-8b-chat.yaml"][1] if o["kind"] == "HorizontalPodAutoscaler"]
    scale_up(hpa)["policies"][0]["periodSeconds"] = 60
    assert violations(files, "staging") == []


def test_every_rule_has_a_test_that_trips_it():
    tested = Path(__file__).read_text()
    assert [name for name in RULES if f'"{name}"' not in tested] == []


# through the command: a hand-edited out/ is refused, naming the rule and the workload's inputs


def test_verify_refuses_a_hand_edited_surging_rollout_naming_the_inputs(built: Path):
    path = built / "out/prod/serve/chat/llama-70b-chat.yaml"
    header = "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("#"))
    docs = list(yaml.safe_load_all(path.read_text()))
    for doc in docs:
        if doc["kind"] == "InferenceService":
            doc["spec"]["predictor"]["deploymentStrategy"]["rollingUpdate"]["maxSurge"] = "25%"
    path.write_text(header + "".join("---\n" + yaml.safe_dump(d, sort_keys=False) for d in docs))
    result = run(built, "verify")
    assert result.exit_code == 1
    assert "out/prod/serve/chat/llama-70b-chat.yaml:" in result.stderr and "[gpu-rollout-surges]" in result.stderr
    assert "environments/prod/workloads/llama-70b-chat.yaml" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def ambient(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture with staging in an ambient mesh, built (never written to by a test)."""
    root = make_repo(tmp_path_factory.mktemp("ambient") / "repo")
    path = root / "environments/staging/environment.yaml"
    path.write_text(path.read_text() + "  mesh: {mode: ambient}\n")
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def ambient_files(ambient: Path) -> dict[str, Files]:
    return {"staging": {rel: (m.text, m.objects) for rel, m in out_manifests(ambient, ["staging"])["staging"].items()}}


def test_an_ambient_environment_builds_and_passes_every_rule(ambient: Path, ambient_files):
    assert run(ambient, "verify", "--env", "staging").exit_code == 0
    files = ambient_files["staging"]
    assert violations(files, "staging") == []
    # an L7 policy bound to an ambient namespace's pods by selector: ztunnel would drop every request
    def by_selector(o: dict) -> None:
        o["spec"].pop("targetRefs")
        o["spec"]["selector"] = {"matchLabels": {"serving.kserve.io/inferenceservice": "llama-8b-chat"}}
    found = violations(broken({"staging": files}, "staging", "AuthorizationPolicy", "llama-8b-chat-access", by_selector), "staging")
    assert "[istio-policy-without-proxy]" in found[0]


def test_ambient_pods_whose_policy_admits_no_hbone_or_no_probe_address_are_refused(ambient_files):
    def no_hbone(o: dict) -> None:
        for rule in o["spec"]["ingress"]:
            rule["ports"] = [p for p in rule["ports"] if p["port"] != 15008]
    only(violations(broken(ambient_files, "staging", "NetworkPolicy", "llama-8b-chat-ingress", no_hbone), "staging"),
         "ambient-traffic-blocked")
    def no_probes(o: dict) -> None:
        o["spec"]["ingress"] = [r for r in o["spec"]["ingress"] if "ipBlock" not in r["from"][0]]
    found = violations(broken(ambient_files, "staging", "NetworkPolicy", "llama-8b-chat-ingress", no_probes), "staging")
    only(found, "ambient-traffic-blocked")
    assert "169.254.7.127/32" in found[0]


def test_a_waypoint_the_default_deny_isolates_is_refused(ambient_files):
    found = violations(dropped(ambient_files, "staging", "NetworkPolicy", "waypoint-ingress"), "staging")
    only(found, "ambient-traffic-blocked")
    assert "waypoint waypoint" in found[0]


def test_ambient_token_pods_without_a_ztunnel_guard_or_with_an_open_one_are_refused(ambient_files):
    only(violations(dropped(ambient_files, "staging", "AuthorizationPolicy", "llama-8b-chat-via-waypoint"), "staging"),
         "waypoint-bypassed")
    def open_to_all(o: dict) -> None:
        o["spec"]["rules"].append({})
    only(violations(broken(ambient_files, "staging", "AuthorizationPolicy", "llama-8b-chat-via-waypoint", open_to_all),
                    "staging"), "waypoint-bypassed")


def test_a_ztunnel_guard_that_refuses_the_meshed_scrape_is_refused(ambient_files):
    def waypoint_only(o: dict) -> None:
        o["spec"]["rules"] = o["spec"]["rules"][:1]
    only(violations(broken(ambient_files, "staging", "AuthorizationPolicy", "llama-8b-chat-via-waypoint", waypoint_only),
                    "staging"), "scrape-blocked-by-mesh")


def test_policies_on_a_knative_predictor_service_are_refused(rendered):
    # dev serves in Knative mode: its <name>-predictor is an ExternalName alias that no waypoint serves
    def on_the_service(o: dict) -> None:
        o["spec"].pop("selector")
        o["spec"]["targetRefs"] = [{"group": "", "kind": "Service", "name": "mistral-7b-eval-predictor"}]
    found = violations(broken(rendered, "dev", "AuthorizationPolicy", "mistral-7b-eval-access", on_the_service), "dev")
    rule = "policy-on-external-name"       # (the sidecar namespace also has no waypoint: a second rule speaks)
    assert any(f"[{rule}]" in m for m in found)
