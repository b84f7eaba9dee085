"""The paths objects really take on a cluster (issue 13), read from what a build wrote: which port Prometheus
finds in a running pod, which Pod Security level a meshed namespace enforces and who chose it.

One repository, built once, with an environment per deployment mode and mesh; the inputs a build must refuse
are resolved apart (no rendering), each in an environment of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run
from meaning import (ONE_GPU, Objects, add_datasource, add_environment, add_project, add_workload, bare_repo, out_objects,
                     replicas)
from nimgen.diagnostics import BuildFailed, Diagnostic
from nimgen.usecases import compile_all

GATEWAY_PODS = {"gateway.networking.k8s.io/gateway-name": "kserve-ingress-gateway"}
KNATIVE = {"kserve": {"deploymentMode": "Knative"}, "autoscaling": {"backend": "knative"}}
ENVIRONMENTS = {
    "std": {"kserve": {"deploymentMode": "Standard"}, "mesh": {"mode": "sidecar", "cni": True}},
    "kn": {**KNATIVE, "mesh": {"mode": "sidecar", "cni": True}},
    "priv": {"kserve": {"deploymentMode": "Standard"}, "mesh": {"mode": "sidecar", "podSecurity": "privileged"}},
    "gw": {"ingress": {"gateway": {"namespace": "kserve", "podLabels": GATEWAY_PODS}},
           "policy": {"allowPublicEndpoints": True}},
    "http": {"autoscaling": {"backend": "hpa", "scaleFromZero": {"via": "keda-http"}}},
    "keda": {"autoscaling": {"backend": "keda"}},
    "amb-open": {"mesh": {"mode": "ambient"}, "monitoring": {"outsideMesh": True}},
    "amb-sa": {"mesh": {"mode": "ambient", "trustDomain": "prod.example"}, "monitoring": {"serviceAccount": "prometheus"}},
    "kn-zero": {**KNATIVE, "autoscaling": {"backend": "knative", "scaleFromZero": {"via": "knative"}}},
    "gw-kn": {**KNATIVE, "ingress": {"gateway": {"namespace": "knative-gateways", "podLabels": GATEWAY_PODS}},
              "policy": {"allowPublicEndpoints": True}},
    "gw-old": {"ingress": {"gatewayNamespace": "ingress"}, "policy": {"allowPublicEndpoints": True}},
}
TOKEN = {"type": "authenticated"}
CACHED = {"ngc": {"secret": "ngc-api", "cache": {"dataSource": "cache"}}}      # a claim nimgen sizes
WARMED = {"ngc": {"secret": "ngc-api", "cache": {"dataSource": "cache", "warmup": True}}}
SINGLE_NODE_CACHED = {"ngc": {"secret": "ngc-api", "cache": {"dataSource": "node-cache"}}}
# environment -> workload -> what the workload adds to ONE_GPU at one replica
WORKLOADS = {
    "std": {"chat": {"access": TOKEN}, "surge": {"rollout": {"maxSurge": 1}}, "cached": {"store": CACHED},
            "warmed": {"store": WARMED}, "writable": {"security": {"readOnlyRootFilesystem": False}}},
    "kn": {"chat": {"access": TOKEN}, "cached": {"store": CACHED}},
    "priv": {"chat": {"access": TOKEN}},
    "gw": {"chat": {"access": {"type": "public"}}, "fetch": {"store": {"uri": "s3://models/llama-8b"}},
           "reader": {"store": {"uri": {"url": "s3://models/llama-8b", "serviceAccount": "model-reader"}}}},
    "gw-kn": {"chat": {"access": {"type": "public"}}},
    "gw-old": {"chat": {"access": {"type": "public"}}},
    "kn-zero": {"fetch": {"store": {"uri": "s3://models/llama-8b"}},
                "idle": {"scaling": {"minReplicas": 0, "maxReplicas": 1, "metric": "concurrency", "target": 4,
                                     "scaleToZero": {"afterSeconds": 600}}}},
    "amb-open": {"chat": {"access": TOKEN}},
    "amb-sa": {"chat": {"access": TOKEN}},
    "keda": {"chat": {"scaling": {"minReplicas": 1, "maxReplicas": 2, "metric": "latency", "target": 500}}},
    "http": {"chat": {"scaling": {"minReplicas": 0, "maxReplicas": 2, "metric": "concurrency", "target": 4,
                                  "scaleToZero": {"afterSeconds": 300}}}},
}
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"


def sidecar_without_cni(root: Path) -> None:
    """The base environment's mesh as a cluster without Istio's CNI agent that has made no Pod Security choice."""
    path = root / "environments" / "base" / "environment.yaml"
    text = path.read_text()
    assert "podSecurity: privileged" in text
    path.write_text(text.replace("mesh: {mode: sidecar, podSecurity: privileged}", "mesh: {mode: sidecar}"))


DIGEST = "sha256:" + "5e" * 32


def pin_digest(root: Path) -> None:
    """The catalog of this repository knows the image digest of meta/llama-3.1-8b-instruct 1.1.2."""
    path = root / "templates" / "models" / "meta--llama-3.1-8b-instruct.yaml"
    text = path.read_text()
    assert text.count('    - version: "1.1.2"\n') == 1
    path.write_text(text.replace('    - version: "1.1.2"\n', f'    - version: "1.1.2"\n      digest: {DIGEST}\n'))


def add_datasources(root: Path) -> None:
    add_datasource(root, "cache", {"pvc": {"size": "100Gi"}})
    add_datasource(root, "node-cache", {"pvc": {"size": "100Gi", "accessMode": "ReadWriteOnce"}})


@pytest.fixture(scope="module")
def built_paths(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("paths") / "repo")
    sidecar_without_cni(root)
    add_datasources(root)
    pin_digest(root)
    for env, spec in ENVIRONMENTS.items():
        add_environment(root, env, spec)
        add_project(root, env, "team", {"gpus": 8})
        for name, extra in WORKLOADS[env].items():
            add_workload(root, env, "team", name, {**ONE_GPU, "scaling": replicas(1), **extra})
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def out(built_paths: Path) -> dict[str, Objects]:
    return {env: Objects(out_objects(built_paths, env)) for env in ENVIRONMENTS}


LARGE = {"model": {"nim": "meta/llama-3.1-70b-instruct", "version": "1.14.0"},
         "profile": {"name": "tensorrt_llm-l40s-bf16-tp4-throughput"}}
# environment -> (spec, {workload: what it adds to ONE_GPU at one replica}): inputs resolved without rendering
REFUSED = {
    "silent": ({"mesh": {"mode": "sidecar"}}, {"chat": {"access": TOKEN}}),
    "unmeshed": ({"mesh": {"mode": "sidecar"}}, {"chat": {"access": {"type": "clusterLocal"}}}),
    "kn-replace": (KNATIVE, {"chat": {"rollout": {"maxSurge": 0}}}),
    "kn-single-node": (KNATIVE, {"chat": {"store": SINGLE_NODE_CACHED}}),
    "amb-kn": ({**KNATIVE, "mesh": {"mode": "ambient"}}, {"chat": {"access": TOKEN}}),
    "gw-twice": ({"ingress": {"gatewayNamespace": "kserve", "gateway": {"namespace": "kserve"}}}, {}),
    # a 140 GB download: 1,120 s at 1 Gb/s, where a Standard-mode start has 420 s
    "slow": ({}, {"cold": {**LARGE, "store": {"ngc": {"secret": "ngc-api"}}},
                  "fetched": {**LARGE, "store": {"uri": "s3://models/llama-70b"}},
                  "warm": {**LARGE, "store": {"ngc": {"secret": "ngc-api", "cache": {"dataSource": "cache", "warmup": True}}}},
                  "staged": LARGE}),
    "slow-kn": (KNATIVE, {"cold": {**LARGE, "store": {"ngc": {"secret": "ngc-api"}}}}),
    "std-single-node": ({}, {"chat": {"store": SINGLE_NODE_CACHED}, "surge": {"store": SINGLE_NODE_CACHED,
                                                                            "rollout": {"maxSurge": 1}}}),
}


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Diagnostic]]:
    root = bare_repo(tmp_path_factory.mktemp("paths-refused") / "repo")
    sidecar_without_cni(root)
    add_datasources(root)
    for env, (spec, workloads) in REFUSED.items():
        add_environment(root, env, spec)
        add_project(root, env, "team", {"gpus": 16})
        for name, extra in workloads.items():
            add_workload(root, env, "team", name, {**ONE_GPU, "scaling": replicas(1), **extra})
    try:
        found = compile_all(root, render=False).problems
    except BuildFailed as failed:
        found = list(failed.diagnostics)
    by_env: dict[str, list[Diagnostic]] = {env: [] for env in REFUSED}
    for d in found:    # a diagnostic at the shared base environment names its environment
        (env,) = [env for env in REFUSED if f"environments/{env}/" in d.file or f"environment {env}," in d.message]
        by_env[env].append(d)
    return by_env


def predictor_port_names(objects: Objects) -> set[str]:
    isvc = objects.get("InferenceService", "chat", "team")
    return {p["name"] for c in isvc["spec"]["predictor"]["containers"] for p in c.get("ports", [])}


# 2: Prometheus finds the port by the name it has in the running pod


def test_a_standard_mode_scrape_names_the_port_the_predictor_declares(out):
    (endpoint,) = out["std"].get("PodMonitor", "chat", "team")["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in predictor_port_names(out["std"]) and endpoint["path"] == "/v1/metrics"


def test_a_knative_mode_scrape_names_the_port_knative_renames_the_serving_port_to(out):
    # Knative names the serving container's port user-port in the revision's pods, whatever the spec called it
    (endpoint,) = out["kn"].get("PodMonitor", "chat", "team")["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "user-port" and endpoint["path"] == "/v1/metrics"


# 13: Pod Security privileged only as the environment's stated choice


def test_a_meshed_namespace_with_istios_cni_enforces_restricted(out):
    assert out["std"].get("Namespace", "team")["metadata"]["labels"][PSA_ENFORCE] == "restricted"


def test_a_meshed_namespace_without_cni_enforces_privileged_when_the_environment_says_so(out):
    labels = out["priv"].get("Namespace", "team")["metadata"]["labels"]
    assert labels[PSA_ENFORCE] == "privileged" and labels["istio-injection"] == "enabled"


def test_a_meshed_namespace_without_cni_or_a_stated_choice_is_an_error_at_the_mesh(diagnostics):
    (error,) = diagnostics["silent"]
    assert error.file.endswith("environments/base/environment.yaml") and error.path == "spec.mesh"
    assert "team" in error.message and "podSecurity: privileged" in error.hint and "cni: true" in error.hint


def test_without_a_meshed_namespace_the_mesh_needs_no_pod_security_choice(diagnostics):
    assert diagnostics["unmeshed"] == []


# 10: a rollout replaces the only replica unless the workload chooses a surge, which its project's peak counts


def strategy(objects: Objects, name: str) -> dict:
    return objects.get("InferenceService", name, "team")["spec"]["predictor"]["deploymentStrategy"]


def test_a_standard_rollout_by_default_stops_a_replica_before_it_starts_one(out):
    assert strategy(out["std"], "chat") == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


def test_a_chosen_surge_starts_the_successor_before_any_replica_stops(out):
    assert strategy(out["std"], "surge") == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_a_knative_rollout_cannot_be_made_to_replace_in_place(diagnostics):
    (error,) = diagnostics["kn-replace"]
    assert (error.file, error.path) == ("environments/kn-replace/workloads/chat.yaml", "spec.rollout.maxSurge")
    assert "new revision before it drains the old one" in error.message


# 11: a rollout's new pods mount the cache beside the old ones: Knative's new revision, a surge


def claim_of(objects: Objects, name: str) -> dict:
    isvc = objects.get("InferenceService", name, "team")
    (claim,) = [v["persistentVolumeClaim"]["claimName"] for v in isvc["spec"]["predictor"]["volumes"]
                if "persistentVolumeClaim" in v]
    return objects.get("PersistentVolumeClaim", claim, "team")


def test_a_single_replica_standard_cache_is_read_write_once(out):
    assert claim_of(out["std"], "cached")["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_a_single_replica_knative_cache_is_read_write_many_for_the_next_revision(out):
    assert claim_of(out["kn"], "cached")["spec"]["accessModes"] == ["ReadWriteMany"]


def test_a_read_write_once_cache_is_refused_where_a_rollout_mounts_it_twice(diagnostics):
    (error,) = diagnostics["kn-single-node"]
    assert (error.file, error.path) == ("environments/kn-single-node/workloads/chat.yaml",
                                        "spec.store.ngc.cache.dataSource")
    assert "up to 2 pods share the cache (1 replicas and 1 more during a rollout)" in error.message
    assert "Multi-Attach" in error.hint
    (error,) = diagnostics["std-single-node"]        # the surge, not the replacing single replica
    assert error.file == "environments/std-single-node/workloads/surge.yaml"


# 12: the gateway's pods, not its whole namespace, and wherever KServe runs them


def peers_on(objects: Objects, port: int) -> list[dict]:
    policy = objects.get("NetworkPolicy", "chat-ingress", "team")
    return [peer for rule in policy["spec"]["ingress"] if any(p["port"] == port for p in rule["ports"])
            for peer in rule["from"]]


def gateway_peers(objects: Objects, port: int, namespace: str) -> list[dict]:
    return [p for p in peers_on(objects, port)
            if p.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": namespace}]


def test_an_exposed_workload_admits_the_gateways_pods_in_the_gateways_namespace(out):
    (peer,) = gateway_peers(out["gw"], 8000, "kserve")
    # one peer holding both selectors: those pods of that namespace (two peers would admit either)
    assert peer["podSelector"] == {"matchLabels": GATEWAY_PODS}
    assert gateway_peers(out["gw"], 8000, "istio-system") == []     # the base environment's namespace is superseded


def test_the_older_gateway_namespace_admits_every_pod_of_it(out):
    (peer,) = gateway_peers(out["gw-old"], 8000, "ingress")
    assert "podSelector" not in peer


def test_knative_mode_admits_every_pod_of_the_gateway_namespace_its_local_gateway_included(out):
    # knative-local-gateway carries cluster-local calls and does not carry the pod labels of KServe's gateway
    (peer,) = gateway_peers(out["gw-kn"], 8012, "knative-gateways")
    assert "podSelector" not in peer


def test_the_gateway_namespace_twice_in_one_file_is_an_error(diagnostics):
    (error,) = diagnostics["gw-twice"]
    assert (error.file, error.path) == ("environments/gw-twice/environment.yaml", "spec.ingress.gatewayNamespace")


# 9: NIM writes into a cache it downloads to; a pre-staged store it only reads


def annotations(objects: Objects, name: str) -> dict:
    return objects.get("InferenceService", name, "team")["metadata"].get("annotations", {})


def cache_path(objects: Objects, name: str) -> str:
    (container,) = objects.get("InferenceService", name, "team")["spec"]["predictor"]["containers"]
    (value,) = [e["value"] for e in container["env"] if e["name"] == "NIM_CACHE_PATH"]
    return value


def test_a_uri_store_is_downloaded_into_a_cache_kserve_mounts_writable(out):
    isvc = out["gw"].get("InferenceService", "fetch", "team")
    (uri,) = isvc["spec"]["predictor"]["storageUris"]
    assert cache_path(out["gw"], "fetch") == uri["mountPath"]        # NIM's cache is the initializer's download
    assert annotations(out["gw"], "fetch")["storage.kserve.io/readonly"] == "false"


def test_a_pvc_store_is_pre_staged_and_mounted_read_only(out):
    predictor = out["gw"].get("InferenceService", "chat", "team")["spec"]["predictor"]
    (container,) = predictor["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == cache_path(out["gw"], "chat")]
    (volume,) = [v for v in predictor["volumes"] if v["name"] == mount["name"]]
    assert mount["readOnly"] is True and volume["persistentVolumeClaim"] == {"claimName": "weights", "readOnly": True}
    assert "storage.kserve.io/readonly" not in annotations(out["gw"], "chat")


# 14: a Standard-mode start must fit the progress deadline with the image pull; a download that cannot is a warning


def test_a_standard_start_that_downloads_more_than_its_window_allows_is_a_warning_at_the_store(diagnostics):
    found = {d.file.rsplit("/", 1)[1]: d for d in diagnostics["slow"]}
    assert set(found) == {"cold.yaml", "fetched.yaml"}        # the warm-up and a pre-staged store download nothing
    for d in found.values():
        assert d.severity == "warning" and d.path == "spec.store"
        assert "downloads 140 GB" in d.message and "420s" in d.message
        assert "warmup: true" in d.hint and "Knative mode" in d.hint


def test_a_knative_start_has_the_deadline_nimgen_sets_for_a_cold_download(diagnostics):
    assert diagnostics["slow-kn"] == []


# 8: a workload the KEDA HTTP add-on wakes is reached only through its interceptor, which counts every request


def test_only_the_interceptor_and_prometheus_reach_a_workload_the_http_add_on_scales(out):
    namespaces = {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in peers_on(out["http"], 8000)}
    assert namespaces == {"keda", "monitoring"}        # not "team": its callers use the wake Service
    (scaled,) = out["http"].of("HTTPScaledObject", "team")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "chat-predictor"


# 15: an idle workload's latency reads a number, not NaN (a quantile of no requests), which KEDA would act on


def test_a_latency_trigger_drops_nan_and_reads_zero_when_idle(out):
    (scaled,) = out["keda"].of("ScaledObject", "team")
    (trigger,) = scaled["spec"]["triggers"]
    query = trigger["metadata"]["query"]
    quantile = query[query.index("histogram_quantile"):query.rindex(") >= 0)")]
    assert 'inferenceservice="chat"' in quantile                           # the environment's query, filled in
    assert query == f"(({quantile}) >= 0) or on() vector(0)"              # NaN >= 0 is false: dropped, then 0


# 7: the request that wakes a Knative workload waits for its cold start within the revision's timeout


def test_a_knative_workload_at_zero_lets_the_waking_request_wait_out_its_cold_start(out):
    isvc = out["kn-zero"].get("InferenceService", "idle", "team")
    deadline = isvc["metadata"]["annotations"]["serving.knative.dev/progress-deadline"]
    assert isvc["spec"]["predictor"]["minReplicas"] == 0 and f"{isvc['spec']['predictor']['timeout']}s" == deadline


def test_a_knative_workload_that_never_scales_to_zero_keeps_knatives_request_timeout(out):
    assert "timeout" not in out["kn"].get("InferenceService", "chat", "team")["spec"]["predictor"]


# 3: KServe's storage initializer reaches a Knative workload's pods through its pod webhook, never the Service


def test_a_knative_uri_store_names_its_uri_to_the_pod_webhook_not_the_knative_service(out):
    predictor = out["kn-zero"].get("InferenceService", "fetch", "team")["spec"]["predictor"]
    (container,) = predictor["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert "storageUris" not in predictor and "initContainers" not in predictor
    assert env["STORAGE_URI"] == "s3://models/llama-8b" and env["NIM_CACHE_PATH"] == "/mnt/models"


def test_a_standard_uri_store_on_kserve_0_16_or_later_lists_storage_uris(out):
    predictor = out["gw"].get("InferenceService", "fetch", "team")["spec"]["predictor"]
    assert predictor["storageUris"] == [{"uri": "s3://models/llama-8b", "mountPath": "/mnt/models"}]


# 5, 6: in an ambient mesh tokens are checked at the waypoint, and nothing reaches the pods past it


def guard_rules(objects: Objects) -> list[dict]:
    return objects.get("AuthorizationPolicy", "chat-via-waypoint", "team")["spec"]["rules"]


def test_ambient_token_access_in_knative_mode_is_refused_at_the_access_type(diagnostics):
    (error,) = diagnostics["amb-kn"]
    assert (error.file, error.path) == ("environments/amb-kn/workloads/chat.yaml", "spec.access.type")
    assert "ExternalName" in error.message and "Standard mode" in error.hint


def test_a_named_prometheus_account_is_the_only_scraper_ztunnel_admits(out):
    assert guard_rules(out["amb-sa"]) == [
        {"from": [{"source": {"principals": ["prod.example/ns/team/sa/waypoint"]}}]},
        {"from": [{"source": {"principals": ["prod.example/ns/monitoring/sa/prometheus"]}}],
         "to": [{"operation": {"ports": ["8000"]}}]}]


def test_a_prometheus_outside_the_mesh_opens_the_nim_port_and_the_readme_says_so(out, built_paths):
    open_rule = {"to": [{"operation": {"ports": ["8000"]}}]}        # no source: plain text, any caller
    assert open_rule in guard_rules(out["amb-open"])
    readme = (built_paths / "out" / "amb-open" / "README.md").read_text()
    assert "## Exposure" in readme and "any caller to port 8000 of `chat`" in readme
    assert "## Exposure" not in (built_paths / "out" / "amb-sa" / "README.md").read_text()


# hardening: what NIM needs and no more


def pod_of(objects: Objects, name: str) -> dict:
    return objects.get("InferenceService", name, "team")["spec"]["predictor"]


def test_nim_runs_on_a_read_only_root_with_writable_scratch_and_cache(out):
    predictor = pod_of(out["std"], "cached")
    (container,) = predictor["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in predictor["volumes"]}
    assert volumes[mounts["/tmp"]]["emptyDir"] == {}                     # scratch: Python's tempfile, outlines
    assert "persistentVolumeClaim" in volumes[mounts[cache_path(out["std"], "cached")]]   # the cache


def test_a_workload_may_give_its_image_a_writable_root(out):
    (container,) = pod_of(out["std"], "writable")["containers"]
    assert "readOnlyRootFilesystem" not in container["securityContext"]
    assert "/tmp" not in {m["mountPath"] for m in container["volumeMounts"]}


def test_no_pod_mounts_an_api_token_unless_its_store_identity_may_need_it(out):
    assert pod_of(out["std"], "chat")["automountServiceAccountToken"] is False
    reader = pod_of(out["gw"], "reader")
    assert reader["serviceAccountName"] == "model-reader" and "automountServiceAccountToken" not in reader
    (job,) = out["std"].of("Job", "team")
    assert job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_a_catalog_digest_pins_the_image_of_the_server_and_the_warmup(out):
    (container,) = pod_of(out["std"], "warmed")["containers"]
    assert container["image"] == f"nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2@{DIGEST}"
    (job,) = out["std"].of("Job", "team")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == container["image"]
