"""What the NIM settings of issue 15 mean, read from the objects a build wrote and from the diagnostics resolve
reports:

- the NIM container's variables: a workload's `spec.env` (a literal, a Secret or ConfigMap key, or the removal
  of an inherited variable) layered by name over the base workload's and the Environment's `spec.nim.env`, over
  nimgen's defaults; names nimgen sets itself and literal credentials refused where they are written;
- LoRA adapters (`spec.lora`): mounted from a claim or downloaded by KServe beside the model, NIM pointed at
  them, their limits in the variables (NIM 1.x) or engine flags (NIM 2.x) NIM reads, on a LoRA profile;
- a registry mirroring nvcr.io (`images.mirror`) and the pull Secret catalog images are pulled with;
- an air-gapped NGC store: a prefilled cache and no NGC key;
- a proxy and a CA bundle (`spec.network`) for the server and its warm-up;
- the start-up window (`spec.probes.startup.seconds`) in the startup probe, Knative's progress deadline and the
  autoscalers' scale-up pace; KEDA's fallback when Prometheus cannot be read.

Two repositories, each made once for the module: one whose environments are valid, built to out/ (the rendered
fields), and one of a small environment per misuse, resolved together without rendering (each diagnostic read
at the file, path, line and column a user edits). A base workload of either is written with `enabled: false` and
enabled by the one environment that layers over it, so that no other environment inherits it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run
from meaning import (HEADER, ONE_GPU, Objects, add_datasource, add_environment, add_project, add_workload, bare_repo,
                     out_objects, replicas)
from nimgen.diagnostics import BuildFailed, Diagnostic
from nimgen.inputs.layering import merge
from nimgen.inputs.load import parse
from nimgen.usecases import compile_all

NIM_CONTAINER = "kserve-container"
MIRROR = "registry.corp.example.com/nim-mirror"
CATALOG_IMAGE = "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.1.2"       # ONE_GPU's model
PEFT_SOURCE = "NIM_PEFT_SOURCE"
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE", "CURL_CA_BUNDLE")
CLUSTER_NO_PROXY = ["localhost", "127.0.0.1", ".svc", ".cluster.local"]    # always reached without the proxy
PROGRESS_DEADLINE = "serving.knative.dev/progress-deadline"
PULL_ALLOWANCE_SECONDS = 180           # Knative's deadline: the start-up window plus scheduling and the image pull
STANDARD_WINDOW = 420                  # KServe's fixed 600 s progress deadline less the pull allowance
NGC = {"secret": "ngc-api"}
DIGEST = "sha256:" + "5e" * 32
# Literal credentials, assembled here so that no scanner mistakes this file for a leak.
HF_LITERAL = "hf_" + "q7Rk2LmN8pX4vT1wZ9yB3c"
NGC_LITERAL = "nvapi-" + "Qw3rTy8uIo2pAs5dFg7h"
AWS_LITERAL = "AKIA" + "J7Q2XW5Z8K3M4N6P"
PLAIN_SECRET = "correct-horse-battery"
KAI = {"scheduler": {"name": "kai"}}                  # GPU shares need the KAI scheduler

# A catalog model of the test's own: a LoRA profile on a NIM 2.x release, which the product catalog lacks (its only
# 2.x release, meta/llama-3.3-70b-instruct 2.0.3, ships no LoRA profile), and a 1.x release the catalog pins by
# digest.
ADAPTERS_MODEL = {**HEADER, "kind": "NimModel", "metadata": {"name": "test/adapters"}, "spec": {
    "image": "nvcr.io/nim/test/adapters", "parametersBillions": 8, "versions": [
        {"version": "1.5.0", "digest": DIGEST, "profiles": [
            {"name": "vllm-fp16-tp1", "engine": "vllm", "precision": "fp16", "tp": 1, "pp": 1, "lora": False},
            {"name": "vllm-fp16-tp1-lora", "engine": "vllm", "precision": "fp16", "tp": 1, "pp": 1, "lora": True}]},
        {"version": "2.1.0", "profiles": [
            {"name": "vllm-fp16-tp1", "engine": "vllm", "precision": "fp16", "tp": 1, "pp": 1, "lora": False},
            {"name": "vllm-fp16-tp1-lora", "engine": "vllm", "precision": "fp16", "tp": 1, "pp": 1, "lora": True}]}]}}


def adapters(version: str, profile: str) -> dict[str, Any]:
    return {"model": {"nim": "test/adapters", "version": version}, "profile": {"name": profile}}


def var(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "value": value}


def removed(name: str) -> dict[str, Any]:
    return {"name": name, "remove": True}


def workload(**spec: Any) -> dict[str, Any]:
    """ONE_GPU (Llama 3.1 8B on one L40S of pool l40s, a pvc store), one replica unless `spec` says otherwise."""
    return {**ONE_GPU, "scaling": replicas(1), **spec}


def write(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def add_layered_workload(root: Path, env: str, project: str, name: str, base: dict[str, Any],
                         override: dict[str, Any]) -> None:
    """A base workload (environments/base/workloads/) that only `env` enables, and `env`'s file over it."""
    meta = {"name": name, "project": project}
    write(root / "environments" / "base" / "workloads" / f"{name}.yaml",
          {**HEADER, "kind": "InferenceWorkload", "metadata": meta, "enabled": False, "spec": base})
    write(root / "environments" / env / "workloads" / f"{name}.yaml",
          {**HEADER, "kind": "InferenceWorkload", "metadata": meta, "enabled": True, "spec": override})


def base_file(name: str) -> str:
    return f"environments/base/workloads/{name}.yaml"


def workload_file(env: str, name: str) -> str:
    return f"environments/{env}/workloads/{name}.yaml"


def environment_file(env: str) -> str:
    return f"environments/{env}/environment.yaml"


# -- the built repository -------------------------------------------------------------------------------------------

# The variables of environment `layers` (every NIM container's) and of the two layers of workload `layered`.
LAYERS_ENV = [var("NIM_LOG_LEVEL", "DEBUG"), var("TIER", "environment"), var("ORIGIN", "environment")]
LAYERED_BASE = workload(env=[var("TIER", "base"), var("ORIGIN", "base"), var("A", "base-a"), var("B", "base-b"),
                             var("C", "base-c"), var("GONE", "base")])
LAYERED_OVER = {"env": [var("ORIGIN", "workload"), var("B", "over-b"), var("D", "over-d"), removed("GONE"),
                        removed("NIM_JSONL_LOGGING"), var("NIM_LOG_LEVEL", "WARNING")]}
NETWORK = {"proxy": {"http": "http://proxy.corp.example.com:3128", "https": "http://proxy.corp.example.com:3129",
                     "noProxy": [".corp.example.com", "10.0.0.0/8"]},
           "caBundle": {"configMap": "corp-ca", "key": "corp.pem"}}
WARM = {"ngc": {**NGC, "cache": {"dataSource": "cache", "warmup": True}}}

BUILT_ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "layers": {"nim": {"env": LAYERS_ENV}},
    "lora": {},
    "lora-kai": KAI,
    "mirror": {"images": {"mirror": MIRROR, "pullSecret": "corp-pull"}},
    "airgap": {},
    "proxy": {"network": NETWORK},
    "kn": {"kserve": {"deploymentMode": "Knative"}, "autoscaling": {"backend": "knative"}},
    "scale": {},                                              # the fixture's base: HPA, Standard mode
    "keda": {"autoscaling": {"backend": "keda"}},
}
# environment -> workload -> spec (project team)
BUILT_WORKLOADS: dict[str, dict[str, dict[str, Any]]] = {
    "layers": {
        "plain": workload(),
        "refs": workload(env=[var("NIM_MAX_MODEL_LEN", 8192),
                              {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                              {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "tuning", "key": "mode"}}},
                              removed("TIER"), removed("OUTLINES_CACHE_DIR"), var("NIM_LOG_LEVEL", "ERROR")]),
    },
    "lora": {
        # profile auto: spec.lora alone asks for a LoRA profile
        "from-claim": workload(profile={"auto": {}}, lora={
            "source": {"pvc": {"claim": "adapters", "path": "/llama-3.1-8b/"}},
            "maxAdapters": 4, "maxCpuAdapters": 16, "refreshSeconds": 300}),
        "from-s3": workload(profile={"name": "vllm-fp16-tp1-lora"}, lora={"source": {"uri": "s3://team/adapters"}}),
        "nim2": workload(**adapters("2.1.0", "vllm-fp16-tp1-lora"), lora={
            "source": {"pvc": {"claim": "adapters"}}, "maxAdapters": 2, "maxCpuAdapters": 8, "refreshSeconds": 60}),
        # the model downloaded too: KServe downloads both, each to its own folder
        "all-s3": workload(profile={"name": "vllm-fp16-tp1-lora"}, store={"uri": "s3://team/llama-3.1-8b"},
                           lora={"source": {"uri": "s3://team/adapters"}}),
        # adapters from a bucket read with a service account's credentials, the model from a claim
        "s3-account": workload(profile={"name": "vllm-fp16-tp1-lora"},
                               lora={"source": {"uri": {"url": "s3://team/adapters", "serviceAccount": "adapter-reader"}}}),
    },
    # half a GPU of a NIM 2 release serving adapters: the memory bound and the limits are all engine flags
    "lora-kai": {"half": workload(**adapters("2.1.0", "vllm-fp16-tp1-lora"),
                                  compute={"cpu": "4", "memory": "32Gi", "gpuFraction": 0.5},
                                  lora={"source": {"pvc": {"claim": "adapters"}}, "maxAdapters": 2})},
    "mirror": {
        "catalog": workload(store=WARM),
        "pinned": workload(**adapters("1.5.0", "vllm-fp16-tp1")),
        "own-image": workload(model={"image": CATALOG_IMAGE}, compute={"cpu": "4", "memory": "32Gi", "gpus": 1}),
        "own-pull": workload(store={"ngc": {**NGC, "pullSecret": "team-pull"}}),
        # the warm-up runs the same image's downloader: a variable that redirects downloads must reach it too
        "redirected": workload(store=WARM, env=[var("NIM_REPOSITORY_OVERRIDE", "s3://nim-mirror/"),
                                                removed("NIM_JSONL_LOGGING")]),
    },
    "airgap": {"offline": workload(store={"ngc": {"cache": {"dataSource": "offline", "prefilled": True}}})},
    "proxy": {
        "inherits": workload(store=WARM),
        "own-proxy": workload(network={"proxy": {"https": "http://team-proxy.example.com:8080",
                                                 "noProxy": [".team.example.com"]}}),
        "own-ca": workload(network={"caBundle": {"configMap": "team-ca"}}),
        # KServe's storage initializer downloads this one, outside the NIM container
        "from-bucket": workload(store={"uri": "s3://team/llama-3.1-8b"}),
    },
    "kn": {"slow": workload(probes={"startup": {"seconds": 3600}})},
    "scale": {
        "fixed": workload(),
        "paced": workload(scaling=replicas(1, 3), probes={"startup": {"seconds": 300}}),
        "default-pace": workload(scaling=replicas(1, 3)),
    },
    "keda": {
        "concurrent": workload(scaling=replicas(2, 4), probes={"startup": {"seconds": 240}}),
        "latency": workload(scaling={"minReplicas": 1, "maxReplicas": 3, "metric": "latency", "target": 500}),
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("nim-settings-built") / "repo")
    write(root / "templates" / "models" / "test--adapters.yaml", ADAPTERS_MODEL)
    add_datasource(root, "cache", {"pvc": {"size": "100Gi"}})
    add_datasource(root, "offline", {"existingClaim": "offline-cache"})
    for env, spec in BUILT_ENVIRONMENTS.items():
        add_environment(root, env, spec)
        add_project(root, env, "team", {"gpus": 32})
        for name, workload_spec in BUILT_WORKLOADS[env].items():
            add_workload(root, env, "team", name, workload_spec)
    add_layered_workload(root, "layers", "team", "layered", LAYERED_BASE, LAYERED_OVER)
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def out(built: Path) -> dict[str, Objects]:
    return {env: Objects(out_objects(built, env)) for env in BUILT_ENVIRONMENTS}


def predictor(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    return out[env].get("InferenceService", name, "team")["spec"]["predictor"]


def nim_container(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = [c for c in pod["containers"] if c["name"] == NIM_CONTAINER]
    return container


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """The container's variables by name (a literal as its string, a reference as its valueFrom)."""
    entries = container.get("env", [])
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), f"a variable set twice: {names}"
    return {e["name"]: e["value"] if "value" in e else e["valueFrom"] for e in entries}


def server_env(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    return env_of(nim_container(predictor(out, env, name)))


def warmup_job(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    (job,) = [j for j in out[env].of("Job", "team") if j["metadata"]["name"].startswith(f"{name}-warmup-")]
    return job


def job_container(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


# -- spec.env: layering by name


def test_the_environments_workload_replaces_the_base_entry_in_place_and_appends_new_names(out):
    env = server_env(out, "layers", "layered")
    user = [name for name in env if name in {"A", "B", "C", "D"}]
    assert user == ["A", "B", "C", "D"]          # B where the base put it, D after the base's variables
    assert (env["A"], env["B"], env["C"], env["D"]) == ("base-a", "over-b", "base-c", "over-d")


def test_remove_drops_a_variable_the_base_workload_set(out):
    assert "GONE" not in server_env(out, "layers", "layered")


def test_the_environment_workload_beats_the_base_workload_which_beats_the_environments_nim_env(out):
    env = server_env(out, "layers", "layered")
    assert env["ORIGIN"] == "workload"           # set by all three layers
    assert env["TIER"] == "base"                 # set by the Environment and the base workload
    assert env["NIM_LOG_LEVEL"] == "WARNING"     # nimgen's default, the Environment's, the workload's


def test_the_environments_nim_env_reaches_a_workload_that_sets_nothing(out):
    env = server_env(out, "layers", "plain")
    assert (env["NIM_LOG_LEVEL"], env["TIER"], env["ORIGIN"]) == ("DEBUG", "environment", "environment")


def test_nimgens_defaults_hold_where_no_layer_changes_them(out):
    env = server_env(out, "scale", "fixed")
    assert env["NIM_LOG_LEVEL"] == "INFO" and env["NIM_JSONL_LOGGING"] == "1"
    assert env["OUTLINES_CACHE_DIR"] == "/tmp/outlines"


def test_a_workload_removes_a_default_and_an_environment_variable_and_overrides_another(out):
    env = server_env(out, "layers", "refs")
    assert "OUTLINES_CACHE_DIR" not in env and "TIER" not in env
    assert env["NIM_LOG_LEVEL"] == "ERROR" and env["NIM_JSONL_LOGGING"] == "1"
    assert "NIM_JSONL_LOGGING" not in server_env(out, "layers", "layered")     # removed through layering too


def test_an_integer_value_is_the_string_kubernetes_needs(out):
    assert server_env(out, "layers", "refs")["NIM_MAX_MODEL_LEN"] == "8192"


def test_secret_and_config_map_references_pass_through_as_references(out):
    env = server_env(out, "layers", "refs")
    assert env["DB_PASSWORD"] == {"secretKeyRef": {"name": "db", "key": "password"}}
    assert env["MODE"] == {"configMapKeyRef": {"name": "tuning", "key": "mode"}}


def test_user_variables_come_after_nimgens_own(out):
    # nimgen's variables first (a user's $(VAR) reference sees them), then the user's in the order first set
    names = list(server_env(out, "layers", "layered"))
    user = ["TIER", "ORIGIN", "A", "B", "C", "D"]
    assert names[-len(user):] == user
    for own in ("NIM_MODEL_PROFILE", "NIM_SERVER_PORT", "NIM_LOG_LEVEL", "NIM_CACHE_PATH"):
        assert names.index(own) < names.index("TIER")


def test_no_rendered_nim_container_sets_a_variable_twice(out):
    for objects in out.values():
        for isvc in objects.of("InferenceService"):
            env_of(nim_container(isvc["spec"]["predictor"]))       # asserts unique names
        for job in objects.of("Job"):
            env_of(job_container(job))


# -- spec.lora


def lora_volume(pod: dict[str, Any], env: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The volume mounted at NIM_PEFT_SOURCE, and its mount."""
    (mount,) = [m for m in nim_container(pod)["volumeMounts"] if m["mountPath"] == env[PEFT_SOURCE]]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return volume, mount


def test_adapters_on_a_claim_are_mounted_read_only_where_nim_looks_for_them(out):
    pod = predictor(out, "lora", "from-claim")
    volume, mount = lora_volume(pod, server_env(out, "lora", "from-claim"))
    assert volume["persistentVolumeClaim"] == {"claimName": "adapters", "readOnly": True}
    assert mount["readOnly"] is True and mount["subPath"] == "llama-3.1-8b"
    assert "storageUris" not in pod


def test_adapters_in_object_storage_are_downloaded_by_kserve_to_where_nim_looks(out):
    pod = predictor(out, "lora", "from-s3")
    env = server_env(out, "lora", "from-s3")
    # the model's store is a claim: the adapters are the one thing KServe downloads
    assert pod["storageUris"] == [{"uri": "s3://team/adapters", "mountPath": env[PEFT_SOURCE]}]
    assert not [m for m in nim_container(pod)["volumeMounts"] if m["mountPath"] == env[PEFT_SOURCE]]


def test_adapter_limits_are_nim_1_variables_on_a_nim_1_release(out):
    env = server_env(out, "lora", "from-claim")
    assert env["NIM_MAX_GPU_LORAS"] == "4" and env["NIM_MAX_CPU_LORAS"] == "16"
    assert env["NIM_PEFT_REFRESH_INTERVAL"] == "300"
    assert "NIM_PASSTHROUGH_ARGS" not in env


def test_adapter_limits_are_engine_flags_on_a_nim_2_release(out):
    env = server_env(out, "lora", "nim2")
    assert env["NIM_PASSTHROUGH_ARGS"].split() == ["--max-loras", "2", "--max-cpu-loras", "8"]
    assert "NIM_MAX_GPU_LORAS" not in env and "NIM_MAX_CPU_LORAS" not in env
    assert env["NIM_PEFT_REFRESH_INTERVAL"] == "60" and env[PEFT_SOURCE]


def test_a_nim_2_share_serving_adapters_gets_every_engine_flag_in_one_variable(out):
    env = server_env(out, "lora-kai", "half")                # env_of refuses a second NIM_PASSTHROUGH_ARGS
    assert env["NIM_PASSTHROUGH_ARGS"].split() == ["--gpu-memory-utilization", "0.5", "--max-loras", "2"]
    assert "NIM_KVCACHE_PERCENT" not in env


def test_a_downloaded_model_and_downloaded_adapters_land_in_different_folders(out):
    pod = predictor(out, "lora", "all-s3")
    env = server_env(out, "lora", "all-s3")
    uris = {u["uri"]: u["mountPath"] for u in pod["storageUris"]}
    assert uris["s3://team/adapters"] == env[PEFT_SOURCE]
    assert uris["s3://team/llama-3.1-8b"] == env["NIM_CACHE_PATH"] != env[PEFT_SOURCE]


def test_adapters_without_limits_set_no_limit(out):
    env = server_env(out, "lora", "from-s3")
    limits = {"NIM_MAX_GPU_LORAS", "NIM_MAX_CPU_LORAS", "NIM_PEFT_REFRESH_INTERVAL", "NIM_PASSTHROUGH_ARGS"}
    assert not limits & set(env)


def test_profile_auto_with_adapters_picks_a_lora_profile(out):
    isvc = out["lora"].get("InferenceService", "from-claim", "team")
    assert isvc["metadata"]["annotations"]["nimgen.dev/profile"] == "vllm-fp16-tp1-lora (auto)"
    # the id of vllm-fp16-tp1-lora in the catalog's 1.1.2 release
    assert server_env(out, "lora", "from-claim")["NIM_MODEL_PROFILE"] == \
        "dfd9bee71abb7582246f7fb8c2aedd9119909b9639e1b4b0260ef6865545ede7"


# -- images: a mirror of nvcr.io and the pull Secret


def test_a_catalog_image_is_pulled_from_the_mirror(out):
    assert nim_container(predictor(out, "mirror", "catalog"))["image"] == f"{MIRROR}/meta/llama-3.1-8b-instruct:1.1.2"


def test_a_catalog_image_pinned_by_digest_keeps_its_digest_through_the_mirror(out):
    assert nim_container(predictor(out, "mirror", "pinned"))["image"] == f"{MIRROR}/test/adapters:1.5.0@{DIGEST}"


def test_a_workloads_own_image_is_not_rewritten(out):
    assert nim_container(predictor(out, "mirror", "own-image"))["image"] == CATALOG_IMAGE


def test_the_warmup_job_pulls_the_mirrored_image_with_the_same_secret(out):
    job = warmup_job(out, "mirror", "catalog")
    assert job_container(job)["image"] == nim_container(predictor(out, "mirror", "catalog"))["image"]
    assert job_container(job)["image"].startswith(MIRROR + "/")
    assert job["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "corp-pull"}]


def test_the_pull_secret_is_the_stores_then_the_environments_then_ngc_secret(out):
    def pulls(env: str, name: str) -> list[dict[str, str]]:
        return predictor(out, env, name)["imagePullSecrets"]
    assert pulls("mirror", "own-pull") == [{"name": "team-pull"}]
    assert pulls("mirror", "catalog") == [{"name": "corp-pull"}]
    assert pulls("mirror", "own-image") == [{"name": "corp-pull"}]
    assert pulls("scale", "fixed") == [{"name": "ngc-secret"}]


def test_without_a_mirror_the_catalog_image_comes_from_nvcr(out):
    assert nim_container(predictor(out, "scale", "fixed"))["image"] == CATALOG_IMAGE


# -- air gap: a prefilled cache without an NGC key


def test_a_prefilled_cache_serves_without_an_ngc_key(out):
    env = server_env(out, "airgap", "offline")
    assert "NGC_API_KEY" not in env
    assert not [j for j in out["airgap"].of("Job")]              # nothing downloads
    pod = predictor(out, "airgap", "offline")
    (mount,) = [m for m in nim_container(pod)["volumeMounts"] if m["mountPath"] == env["NIM_CACHE_PATH"]]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["persistentVolumeClaim"]["claimName"] == "offline-cache"


# -- spec.network: proxy and CA bundle


def proxy_of(env: dict[str, Any]) -> dict[str, Any]:
    found = {name: env.get(name) for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")}
    for name, value in found.items():
        assert env.get(name.lower()) == value, f"{name.lower()} differs from {name}"
    return found


def test_the_environments_proxy_reaches_the_server_and_the_warmup_in_both_spellings(out):
    for env in (server_env(out, "proxy", "inherits"), env_of(job_container(warmup_job(out, "proxy", "inherits")))):
        proxy = proxy_of(env)
        assert proxy["HTTP_PROXY"] == "http://proxy.corp.example.com:3128"
        assert proxy["HTTPS_PROXY"] == "http://proxy.corp.example.com:3129"
        no_proxy = proxy["NO_PROXY"].split(",")
        assert no_proxy[:2] == [".corp.example.com", "10.0.0.0/8"]          # the user's first
        assert [h for h in no_proxy if h in CLUSTER_NO_PROXY] == CLUSTER_NO_PROXY


def ca_of(pod: dict[str, Any], container: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The ConfigMap volume holding the file the CA variables name, and that file's path."""
    env = env_of(container)
    (path,) = {env[name] for name in CA_VARIABLES}
    (mount,) = [m for m in container["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    (item,) = volume["configMap"]["items"]
    assert path == f"{mount['mountPath'].rstrip('/')}/{item['path']}"
    return volume["configMap"], path


def test_the_ca_bundle_is_mounted_read_only_and_every_client_pointed_at_it(out):
    pod = predictor(out, "proxy", "inherits")
    config_map, _ = ca_of(pod, nim_container(pod))
    assert config_map["name"] == "corp-ca" and config_map["items"][0]["key"] == "corp.pem"
    assert server_env(out, "proxy", "inherits")["NIM_SDK_USE_NATIVE_TLS"] == "1"
    job = warmup_job(out, "proxy", "inherits")
    config_map, _ = ca_of(job["spec"]["template"]["spec"], job_container(job))
    assert config_map["name"] == "corp-ca"
    assert env_of(job_container(job))["NIM_SDK_USE_NATIVE_TLS"] == "1"


def test_a_workloads_proxy_replaces_the_environments_whole_and_keeps_its_ca_bundle(out):
    env = server_env(out, "proxy", "own-proxy")
    proxy = proxy_of(env)
    assert proxy["HTTPS_PROXY"] == "http://team-proxy.example.com:8080"
    assert proxy["HTTP_PROXY"] is None                        # not inherited from the environment's proxy
    no_proxy = proxy["NO_PROXY"].split(",")
    assert no_proxy[0] == ".team.example.com" and ".corp.example.com" not in no_proxy
    assert [h for h in no_proxy if h in CLUSTER_NO_PROXY] == CLUSTER_NO_PROXY
    pod = predictor(out, "proxy", "own-proxy")
    assert ca_of(pod, nim_container(pod))[0]["name"] == "corp-ca"


def test_a_workloads_ca_bundle_replaces_the_environments_and_keeps_its_proxy(out):
    pod = predictor(out, "proxy", "own-ca")
    config_map, _ = ca_of(pod, nim_container(pod))
    assert config_map["name"] == "team-ca" and config_map["items"][0]["key"] == "ca-bundle.crt"   # the default key
    assert proxy_of(server_env(out, "proxy", "own-ca"))["HTTP_PROXY"] == "http://proxy.corp.example.com:3128"


def test_without_a_network_no_proxy_or_ca_variable_is_set(out):
    env = server_env(out, "scale", "fixed")
    outbound = {"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "NIM_SDK_USE_NATIVE_TLS", *CA_VARIABLES}
    assert not outbound & set(env)


# -- spec.probes.startup.seconds


def startup_seconds(out: dict[str, Objects], env: str, name: str) -> int:
    probe = nim_container(predictor(out, env, name))["startupProbe"]
    return probe["failureThreshold"] * probe["periodSeconds"]


def test_the_startup_probe_allows_the_window_a_workload_asks_for(out):
    assert startup_seconds(out, "scale", "paced") == 300
    assert startup_seconds(out, "scale", "default-pace") == STANDARD_WINDOW


def test_a_knative_workloads_long_window_moves_its_progress_deadline(out):
    assert startup_seconds(out, "kn", "slow") == 3600
    annotations = out["kn"].get("InferenceService", "slow", "team")["metadata"]["annotations"]
    assert annotations[PROGRESS_DEADLINE] == f"{3600 + PULL_ALLOWANCE_SECONDS}s"


# -- autoscalers: one replica per start-up window, KEDA's fallback


def scale_up_policy(behavior: dict[str, Any]) -> dict[str, Any]:
    (policy,) = behavior["scaleUp"]["policies"]
    return policy


def test_an_hpa_adds_one_pod_per_start_up_window_and_keeps_its_scale_down_window(out):
    for name, window in (("paced", 300), ("default-pace", STANDARD_WINDOW)):
        behavior = out["scale"].get("HorizontalPodAutoscaler", name, "team")["spec"]["behavior"]
        assert scale_up_policy(behavior) == {"type": "Pods", "value": 1, "periodSeconds": window}
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600


def scaled_object(out: dict[str, Objects], name: str) -> dict[str, Any]:
    return out["keda"].get("ScaledObject", name, "team")


def test_a_keda_scaled_object_hands_its_hpa_the_same_pace(out):
    behavior = scaled_object(out, "concurrent")["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert scale_up_policy(behavior) == {"type": "Pods", "value": 1, "periodSeconds": 240}
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 600


def test_a_keda_average_value_trigger_falls_back_to_min_replicas_never_below_the_current(out):
    spec = scaled_object(out, "concurrent")["spec"]
    (trigger,) = spec["triggers"]
    assert trigger["metricType"] == "AverageValue"
    assert spec["fallback"] == {"failureThreshold": 3, "replicas": 2, "behavior": "currentReplicasIfHigher"}


def test_a_keda_latency_trigger_has_no_fallback(out):
    spec = scaled_object(out, "latency")["spec"]
    (trigger,) = spec["triggers"]
    assert trigger["metricType"] == "Value" and "fallback" not in spec


# -- the misuses: one small environment each, resolved together once -----------------------------------------------

SHARE = {"cpu": "4", "memory": "32Gi", "gpuFraction": 0.5}
# the names nimgen sets itself, with a value each and the field the message names instead
OWNED = {
    "NIM_MODEL_PROFILE": ("vllm-fp16-tp1", "spec.profile"),
    "NIM_TAGS_SELECTOR": ("profile=latency", "spec.profile"),
    "NIM_CACHE_PATH": ("/models", "spec.store"),
    "NGC_API_KEY": ({"secretKeyRef": {"name": "ngc", "key": "key"}}, "spec.store.ngc.secret"),
    "NIM_SERVER_PORT": ("9000", "port 8000"),
    "NIM_PEFT_SOURCE": ("/loras", "spec.lora.source"),
    "HTTPS_PROXY": ("http://proxy.example.com:3128", "spec.network.proxy"),
    "SSL_CERT_FILE": ("/etc/ssl/corp.pem", "spec.network.caBundle"),
}


def entry(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "valueFrom": value} if isinstance(value, dict) else var(name, value)


# entries of workload leaky of environment `credentials`: index -> (name, literal)
LEAKS = [("HF_HUB_TOKEN_VALUE", HF_LITERAL), ("NGC_KEY_COPY", NGC_LITERAL), ("AWS_ACCESS_KEY_ID", AWS_LITERAL),
         ("MY_API_TOKEN", PLAIN_SECRET)]
# where a credential is, or a reference to one: allowed
HARMLESS = [var("API_TOKEN_FILE", "/var/run/secrets/token"), var("MY_API_TOKEN_PATH", "/var/run/token"),
            {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            var("MY_API_TOKEN_EMPTY", "")]
LORA_PVC = {"source": {"pvc": {"claim": "adapters"}}}
LORA_S3 = {"source": {"uri": "s3://team/adapters"}}
OFFLINE = {"dataSource": "offline", "prefilled": True}
H100_PROFILE = "tensorrt_llm-h100-bf16-tp1-throughput"
CREDENTIAL_PROXY = "http://svc-user:" + "s3cr3tpass" + "@proxy.corp.example.com:3128"

# environment -> (environment spec, {workload: spec}); environments positions and twice-over also enable one
# layered workload each (below)
SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {
    # spec.env
    "owned": ({}, {"w": workload(env=[entry(name, value) for name, (value, _) in OWNED.items()])}),
    "owned-env": ({"nim": {"env": [var("NIM_LOG_LEVEL", "DEBUG"), var("NIM_CACHE_PATH", "/models")]}},
                  {"w": workload()}),
    "twice": ({}, {"w": workload(env=[var("A", "1"), var("B", "2"), var("A", "3")])}),
    "twice-env": ({"nim": {"env": [var("A", "1"), var("A", "2")]}}, {"w": workload()}),
    "twice-over": ({}, {}),
    "credentials": ({}, {"leaky": workload(env=[var(name, value) for name, value in LEAKS] + HARMLESS)}),
    "credentials-env": ({"nim": {"env": [var("SERVICE_PASSWORD", PLAIN_SECRET)]}}, {"w": workload()}),
    "positions": ({}, {}),
    # a GPU share: nimgen bounds the engine's memory with NIM_KVCACHE_PERCENT (KAI does not isolate it)
    "kvcache": (KAI, {"share": workload(compute=SHARE, env=[var("NIM_KVCACHE_PERCENT", "0.9")]),
                      "whole": workload(env=[var("NIM_KVCACHE_PERCENT", "0.9")])}),
    "kvcache-env": ({**KAI, "nim": {"env": [var("NIM_KVCACHE_PERCENT", "0.9")]}},
                    {"share": workload(compute=SHARE),
                     "opted-out": workload(compute=SHARE, env=[removed("NIM_KVCACHE_PERCENT")]),
                     "whole": workload()}),
    "kvcache-env-listed": ({**KAI, "nim": {"env": [var("NIM_KVCACHE_PERCENT", "0.9")]}},
                           {"share": workload(compute=SHARE, env=[var("NIM_MAX_MODEL_LEN", "8192")])}),
    # a NIM 2 release takes adapter limits as engine flags in NIM_PASSTHROUGH_ARGS
    "passthrough-nim2": ({}, {"w": workload(**adapters("2.1.0", "vllm-fp16-tp1-lora"),
                                            lora={**LORA_PVC, "maxAdapters": 2},
                                            env=[var("NIM_PASSTHROUGH_ARGS", "--max-num-seqs 64")])}),
    # spec.lora
    "lora-pinned": ({}, {"w": workload(lora=LORA_PVC)}),                     # ONE_GPU pins vllm-fp16-tp1
    "lora-auto-off": ({}, {"w": workload(profile={"auto": {"lora": False}}, lora=LORA_PVC)}),
    "lora-old-kserve": ({"kserve": {"version": "0.15"}},
                        {"w": workload(profile={"name": "vllm-fp16-tp1-lora"}, lora=LORA_S3)}),
    "lora-knative": ({"kserve": {"deploymentMode": "Knative"}, "autoscaling": {"backend": "knative"}},
                     {"w": workload(profile={"name": "vllm-fp16-tp1-lora"}, lora=LORA_S3)}),
    "lora-limits": ({}, {"w": workload(profile={"name": "vllm-fp16-tp1-lora"},
                                       lora={**LORA_PVC, "maxAdapters": 8, "maxCpuAdapters": 4})}),
    "lora-pvc-uri": ({}, {"w": workload(profile={"name": "vllm-fp16-tp1-lora"},
                                        lora={"source": {"uri": "pvc://adapters/llama"}})}),
    "lora-hf-uri": ({}, {"w": workload(profile={"name": "vllm-fp16-tp1-lora"},
                                       lora={"source": {"uri": {"url": "hf://team/one-adapter"}}})}),
    "lora-two-accounts": ({}, {"w": workload(profile={"name": "vllm-fp16-tp1-lora"},
                                             store={"uri": {"url": "s3://team/llama", "serviceAccount": "model-reader"}},
                                             lora={"source": {"uri": {"url": "s3://team/adapters",
                                                                      "serviceAccount": "adapter-reader"}}})}),
    # token access puts the namespace in the (sidecar) mesh; before Kubernetes 1.29 no native sidecar
    "lora-mesh-old-k8s": ({"kubernetesVersion": "1.28"},
                          {"w": workload(profile={"name": "vllm-fp16-tp1-lora"}, lora=LORA_S3,
                                         access={"type": "authenticated"})}),
    "lora-unasked": ({}, {"w": workload(profile={"name": "vllm-fp16-tp1-lora"})}),
    # images
    "mirror-misfit": ({"images": {"mirror": MIRROR}}, {"w": workload(profile={"name": H100_PROFILE})}),
    "mirror-scheme": ({"images": {"mirror": "https://registry.corp.example.com/nim"}}, {}),
    # air gap
    "keyless": ({}, {"w": workload(store={"ngc": {"cache": {"dataSource": "offline"}}})}),
    "prefilled-new-claim": ({}, {"w": workload(store={"ngc": {"cache": {"dataSource": "cache", "prefilled": True}}})}),
    "prefilled-warmup": ({}, {"w": workload(store={"ngc": {**NGC, "cache": {**OFFLINE, "warmup": True}}})}),
    "keyless-warmup": ({}, {"w": workload(store={"ngc": {"cache": {**OFFLINE, "warmup": True}}})}),
    "keyless-secret-key": ({}, {"w": workload(store={"ngc": {"secretKey": "api-key", "cache": OFFLINE}})}),
    # spec.network
    "proxy-credentials": ({"network": {"proxy": {"http": CREDENTIAL_PROXY}}}, {}),
    "proxy-credentials-workload": ({}, {"w": workload(network={"proxy": {"https": CREDENTIAL_PROXY}})}),
    # spec.probes.startup.seconds
    "start-long": ({}, {"w": workload(probes={"startup": {"seconds": STANDARD_WINDOW + 10}})}),
    "start-edge": ({}, {"w": workload(probes={"startup": {"seconds": STANDARD_WINDOW}})}),
    # the shapes the schemas refuse
    "shapes": ({}, {
        "value-and-remove": workload(env=[{"name": "X", "value": "1", "remove": True}]),
        "boolean": workload(env=[var("X", True)]),
        "remove-false": workload(env=[{"name": "X", "remove": False}]),
        "bad-name": workload(env=[var("1X", "1")]),
        "two-sources": workload(profile={"name": "vllm-fp16-tp1-lora"},
                                lora={"source": {**LORA_PVC["source"], **LORA_S3["source"]}}),
        "no-adapters": workload(profile={"name": "vllm-fp16-tp1-lora"}, lora={**LORA_PVC, "maxAdapters": 0}),
        "short-start": workload(probes={"startup": {"seconds": 10}}),
        "odd-start": workload(probes={"startup": {"seconds": 305}}),      # the probe asks every 10 s
    }),
}
# workload mixed of environment positions: the base's entries and the environment's over them
MIXED_BASE = workload(env=[var("A", "1"), var("NIM_CACHE_PATH", "/models"), var("B", "2")])
MIXED_OVER = {"env": [var("B", HF_LITERAL), var("NIM_SERVER_PORT", "9000"), var("C", "3")]}
# workload dup of environment twice-over: a name twice in the environment's file over a base
DUP_BASE = workload(env=[var("A", "1")])
DUP_OVER = {"env": [var("B", "1"), var("B", "2")]}


@pytest.fixture(scope="module")
def misuse_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("nim-settings-misuse") / "repo")
    write(root / "templates" / "models" / "test--adapters.yaml", ADAPTERS_MODEL)
    add_datasource(root, "cache", {"pvc": {"size": "100Gi"}})
    add_datasource(root, "offline", {"existingClaim": "offline-cache"})
    for env, (spec, workloads) in SCENARIOS.items():
        add_environment(root, env, spec)
        add_project(root, env, "team", {"gpus": 32})
        for name, workload_spec in workloads.items():
            add_workload(root, env, "team", name, workload_spec)
    add_layered_workload(root, "positions", "team", "mixed", MIXED_BASE, MIXED_OVER)
    add_layered_workload(root, "twice-over", "team", "dup", DUP_BASE, DUP_OVER)
    return root


@pytest.fixture(scope="module")
def diagnostics(misuse_repo: Path) -> dict[str, list[Diagnostic]]:
    """Every diagnostic of the repository, filed under its environment; a base file's under the environment that
    enables it (only one does)."""
    try:
        found = compile_all(misuse_repo, render=False).problems
    except BuildFailed as failed:
        found = list(failed.diagnostics)
    owners = {base_file("mixed"): "positions", base_file("dup"): "twice-over"}
    by_env: dict[str, list[Diagnostic]] = {env: [] for env in SCENARIOS}
    for d in found:
        env = owners.get(d.file) or d.file.split("/")[1]
        assert env in by_env, f"a diagnostic outside the scenarios: {d.text()}"
        by_env[env].append(d)
    return by_env


def errors(diagnostics: dict[str, list[Diagnostic]], env: str) -> list[Diagnostic]:
    return [d for d in diagnostics[env] if d.severity == "error"]


def position(root: Path, file: str, *path: str | int, key: bool = False) -> tuple[int, int]:
    """The 1-based line and column where the value (or, with key, the mapping key) at `path` is written in a file
    a test wrote."""
    node: Any = yaml.compose((root / file).read_text())
    mark = node.start_mark
    for part in path:
        if isinstance(part, int):
            node = node.value[part]
            mark = node.start_mark
        else:
            ((key_node, node),) = [(k, v) for k, v in node.value if k.value == part]
            mark = key_node.start_mark if key else node.start_mark
    return mark.line + 1, mark.column + 1


def dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(f"[{k}]" if isinstance(k, int) else k for k in path).replace(".[", "[")


def assert_at(d: Diagnostic, root: Path, file: str, *path: str | int, reported: tuple[str | int, ...] | None = None,
              key: bool = False) -> None:
    """The diagnostic names the file, the dotted path (`reported`, when the layered document's path differs from
    the file's) and the line and column of the value at `path` in that file."""
    assert (d.file, d.path) == (file, dotted(reported or path)), d.text()
    assert (d.line, d.column) == position(root, file, *path, key=key), d.text()


def only_error(diagnostics: dict[str, list[Diagnostic]], env: str) -> Diagnostic:
    found = diagnostics[env]
    assert len(found) == 1 and found[0].severity == "error", [d.text() for d in found]
    return found[0]


# -- spec.env


@pytest.mark.parametrize("index,name", list(enumerate(OWNED)))
def test_a_name_nimgen_sets_is_refused_in_a_workload_with_the_field_that_sets_it(diagnostics, misuse_repo, index,
                                                                                 name):
    (error,) = [d for d in errors(diagnostics, "owned") if d.path == f"spec.env[{index}].name"]
    assert_at(error, misuse_repo, workload_file("owned", "w"), "spec", "env", index, "name")
    assert error.message.startswith(f"nimgen sets {name} itself, from ") and OWNED[name][1] in error.message
    assert len(errors(diagnostics, "owned")) == len(OWNED)         # one per entry, nothing else


def test_a_name_nimgen_sets_is_refused_in_the_environments_nim_env(diagnostics, misuse_repo):
    error = only_error(diagnostics, "owned-env")
    assert_at(error, misuse_repo, environment_file("owned-env"), "spec", "nim", "env", 1, "name")
    assert "nimgen sets NIM_CACHE_PATH itself, from spec.store" in error.message


def test_a_name_set_twice_in_one_list_is_refused_at_the_second(diagnostics, misuse_repo):
    error = only_error(diagnostics, "twice")
    file = workload_file("twice", "w")
    assert_at(error, misuse_repo, file, "spec", "env", 2, "name")
    assert "A is set twice" in error.message
    assert f"line {position(misuse_repo, file, 'spec', 'env', 0)[0]}" in error.hint


def test_a_name_set_twice_in_the_environments_nim_env_is_refused_at_the_second(diagnostics, misuse_repo):
    error = only_error(diagnostics, "twice-env")
    assert_at(error, misuse_repo, environment_file("twice-env"), "spec", "nim", "env", 1, "name")
    assert "A is set twice" in error.message


def test_a_name_set_twice_in_an_environments_file_over_a_base_is_refused(diagnostics, misuse_repo):
    error = only_error(diagnostics, "twice-over")
    assert_at(error, misuse_repo, workload_file("twice-over", "dup"), "spec", "env", 1, "name",
              reported=("spec", "env", 2, "name"))
    assert "B is set twice" in error.message


@pytest.mark.parametrize("index", range(len(LEAKS)))
def test_a_literal_credential_is_refused_at_its_value_and_never_echoed(diagnostics, misuse_repo, index):
    name, literal = LEAKS[index]
    found = [d for d in errors(diagnostics, "credentials") if d.path == f"spec.env[{index}].value"]
    (error,) = [d for d in found if "credential written as a literal" in d.message]
    assert_at(error, misuse_repo, workload_file("credentials", "leaky"), "spec", "env", index, "value")
    assert name in error.message and "secretKeyRef" in error.hint
    for d in found:            # an NGC key is also refused wherever it is written: neither message repeats it
        assert literal not in d.message and literal not in (d.hint or "") and literal not in d.text()


def test_a_location_of_a_credential_or_a_reference_to_one_is_no_credential(diagnostics):
    # the HARMLESS entries follow the leaks: none of them is reported
    assert {d.path for d in errors(diagnostics, "credentials")} == {f"spec.env[{i}].value" for i in range(len(LEAKS))}


def test_a_literal_credential_in_the_environments_nim_env_is_refused(diagnostics, misuse_repo):
    error = only_error(diagnostics, "credentials-env")
    assert_at(error, misuse_repo, environment_file("credentials-env"), "spec", "nim", "env", 0, "value")
    assert "SERVICE_PASSWORD" in error.message and PLAIN_SECRET not in error.text()


def test_nim_kvcache_percent_on_a_gpu_share_is_refused_and_free_on_a_whole_gpu(diagnostics, misuse_repo):
    error = only_error(diagnostics, "kvcache")
    assert_at(error, misuse_repo, workload_file("kvcache", "share"), "spec", "env", 0, "name")
    assert "nimgen sets NIM_KVCACHE_PERCENT for this workload itself" in error.message


def test_nim_kvcache_percent_from_the_environment_is_refused_on_a_share_unless_it_removes_it(diagnostics, misuse_repo):
    # the share that says nothing is told where to drop it; the one that removes it and the whole GPU are silent
    error = only_error(diagnostics, "kvcache-env")
    assert_at(error, misuse_repo, workload_file("kvcache-env", "share"), "spec", key=True)
    assert "the environment's spec.nim.env (environments/kvcache-env/environment.yaml) sets NIM_KVCACHE_PERCENT" \
        in error.message
    assert "{name: NIM_KVCACHE_PERCENT, remove: true}" in error.hint
    error = only_error(diagnostics, "kvcache-env-listed")
    assert_at(error, misuse_repo, workload_file("kvcache-env-listed", "share"), "spec", "env", key=True)


def test_nim_passthrough_args_on_a_nim_2_workload_with_adapter_limits_is_refused(diagnostics, misuse_repo):
    error = only_error(diagnostics, "passthrough-nim2")
    assert_at(error, misuse_repo, workload_file("passthrough-nim2", "w"), "spec", "env", 0, "name")
    assert "nimgen sets NIM_PASSTHROUGH_ARGS for this workload itself" in error.message


def test_errors_in_layered_env_entries_point_at_the_file_that_wrote_each(diagnostics, misuse_repo):
    found = {d.path: d for d in errors(diagnostics, "positions")}
    assert len(found) == len(diagnostics["positions"]) == 3
    # inherited from the base workload, at its index in both
    assert_at(found["spec.env[1].name"], misuse_repo, base_file("mixed"), "spec", "env", 1, "name")
    # the environment's B replaced the base's in place (index 2 of the layered list, 0 of its file)
    over = workload_file("positions", "mixed")
    assert_at(found["spec.env[2].value"], misuse_repo, over, "spec", "env", 0, "value",
              reported=("spec", "env", 2, "value"))
    # a new name appended after the base's entries (index 3 of the layered list, 1 of its file)
    assert_at(found["spec.env[3].name"], misuse_repo, over, "spec", "env", 1, "name",
              reported=("spec", "env", 3, "name"))
    assert "NIM_CACHE_PATH" in found["spec.env[1].name"].message
    assert "NIM_SERVER_PORT" in found["spec.env[3].name"].message


@pytest.mark.parametrize("workload_name,path,words", [
    ("value-and-remove", ("spec", "env", 0), "exactly one of value, valueFrom or remove"),
    ("boolean", ("spec", "env", 0, "value"), "an env value is a string"),
    ("remove-false", ("spec", "env", 0, "remove"), "remove is true or absent"),
    ("bad-name", ("spec", "env", 0, "name"), "not a valid environment variable name"),
    ("two-sources", ("spec", "lora", "source"), "set exactly one of pvc or uri"),
    ("no-adapters", ("spec", "lora", "maxAdapters"), "less than the minimum of 1"),
    ("short-start", ("spec", "probes", "startup", "seconds"), "10 is not a start-up window nimgen takes"),
    ("odd-start", ("spec", "probes", "startup", "seconds"), "305 is not a start-up window nimgen takes"),
])
def test_a_shape_the_schema_refuses_is_located(diagnostics, misuse_repo, workload_name, path, words):
    (error,) = [d for d in errors(diagnostics, "shapes") if d.file == workload_file("shapes", workload_name)]
    assert_at(error, misuse_repo, workload_file("shapes", workload_name), *path)
    assert words in error.message


# -- spec.lora


def test_adapters_on_a_pinned_profile_without_lora_are_refused_at_spec_lora(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-pinned")
    assert_at(error, misuse_repo, workload_file("lora-pinned", "w"), "spec", "lora")
    assert "profile vllm-fp16-tp1 cannot serve LoRA adapters" in error.message


def test_adapters_with_auto_lora_false_are_refused_at_auto_lora(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-auto-off")
    assert_at(error, misuse_repo, workload_file("lora-auto-off", "w"), "spec", "profile", "auto", "lora")
    assert "needs a LoRA profile" in error.message


def test_adapters_from_object_storage_need_kserve_0_16(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-old-kserve")
    assert_at(error, misuse_repo, workload_file("lora-old-kserve", "w"), "spec", "lora", "source", "uri")
    assert "KServe 0.15" in error.message and "storageUris" in error.message


def test_adapters_from_object_storage_are_refused_in_knative_mode(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-knative")
    assert_at(error, misuse_repo, workload_file("lora-knative", "w"), "spec", "lora", "source", "uri")
    assert "Knative mode" in error.message


def test_fewer_host_memory_adapters_than_gpu_adapters_are_refused(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-limits")
    assert_at(error, misuse_repo, workload_file("lora-limits", "w"), "spec", "lora", "maxCpuAdapters")
    assert "maxCpuAdapters (4) is below maxAdapters (8)" in error.message


def test_adapters_on_a_claim_are_not_a_pvc_uri(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-pvc-uri")
    assert_at(error, misuse_repo, workload_file("lora-pvc-uri", "w"), "spec", "lora", "source", "uri")
    assert "mounted, not downloaded" in error.message and "pvc" in error.hint


def test_adapters_downloaded_in_the_mesh_need_native_sidecars(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-mesh-old-k8s")
    assert_at(error, misuse_repo, workload_file("lora-mesh-old-k8s", "w"), "spec", "lora", "source", "uri")
    assert "native sidecar" in error.message and "Kubernetes 1.28" in error.message


def test_a_lora_profile_without_adapters_is_a_warning_at_the_profile(diagnostics, misuse_repo):
    (warning,) = diagnostics["lora-unasked"]
    assert warning.severity == "warning"
    assert_at(warning, misuse_repo, workload_file("lora-unasked", "w"), "spec", "profile")
    assert "vllm-fp16-tp1-lora serves LoRA adapters, but spec.lora names none" in warning.message


# -- images


def test_a_profile_for_other_gpus_is_refused_through_a_mirror(diagnostics, misuse_repo):
    error = only_error(diagnostics, "mirror-misfit")
    assert_at(error, misuse_repo, workload_file("mirror-misfit", "w"), "spec", "profile", "name")
    assert f"profile {H100_PROFILE} cannot run on node pool 'l40s'" in error.message


def test_a_mirror_with_a_scheme_is_refused(diagnostics, misuse_repo):
    error = only_error(diagnostics, "mirror-scheme")
    assert_at(error, misuse_repo, environment_file("mirror-scheme"), "spec", "images", "mirror")
    assert "is not a registry path" in error.message


# -- air gap


def test_an_ngc_store_without_a_key_or_a_prefilled_cache_is_refused_by_the_schema(diagnostics, misuse_repo):
    error = only_error(diagnostics, "keyless")
    assert_at(error, misuse_repo, workload_file("keyless", "w"), "spec", "store", "ngc",
              reported=("spec", "store", "ngc", "secret"))
    assert "store.ngc needs secret" in error.message and "prefilled: true" in error.hint


def test_a_prefilled_cache_must_be_an_existing_claim(diagnostics, misuse_repo):
    error = only_error(diagnostics, "prefilled-new-claim")
    assert_at(error, misuse_repo, workload_file("prefilled-new-claim", "w"), "spec", "store", "ngc", "cache",
              "prefilled")
    assert "data source 'cache' is a claim nimgen creates" in error.message


def test_a_prefilled_cache_needs_no_warmup(diagnostics, misuse_repo):
    error = only_error(diagnostics, "prefilled-warmup")
    assert_at(error, misuse_repo, workload_file("prefilled-warmup", "w"), "spec", "store", "ngc", "cache", "warmup")
    assert "a prefilled cache needs no warm-up" in error.message


def test_a_warmup_without_an_ngc_key_is_refused(diagnostics, misuse_repo):
    found = errors(diagnostics, "keyless-warmup")
    (error,) = [d for d in found if "needs an NGC key" in d.message]
    assert_at(error, misuse_repo, workload_file("keyless-warmup", "w"), "spec", "store", "ngc", "cache", "warmup")
    assert {d.path for d in found} == {"spec.store.ngc.cache.warmup"}


def test_a_secret_key_without_a_secret_is_refused(diagnostics, misuse_repo):
    error = only_error(diagnostics, "keyless-secret-key")
    assert_at(error, misuse_repo, workload_file("keyless-secret-key", "w"), "spec", "store", "ngc", "secretKey")


# -- spec.network


def test_a_proxy_url_with_credentials_is_refused_in_the_environment_and_in_a_workload(diagnostics, misuse_repo):
    error = only_error(diagnostics, "proxy-credentials")
    assert_at(error, misuse_repo, environment_file("proxy-credentials"), "spec", "network", "proxy", "http")
    assert "not a proxy URL without credentials" in error.message
    error = only_error(diagnostics, "proxy-credentials-workload")
    assert_at(error, misuse_repo, workload_file("proxy-credentials-workload", "w"), "spec", "network", "proxy", "https")


def test_a_refused_proxy_url_does_not_echo_its_password(diagnostics):
    for env in ("proxy-credentials", "proxy-credentials-workload"):
        (error,) = diagnostics[env]
        assert "s3cr3tpass" not in error.text()


# -- spec.probes.startup.seconds


def test_a_standard_mode_start_up_window_past_420_seconds_is_refused(diagnostics, misuse_repo):
    error = only_error(diagnostics, "start-long")
    assert_at(error, misuse_repo, workload_file("start-long", "w"), "spec", "probes", "startup", "seconds")
    assert "at most 420s" in error.message and "Knative mode" in error.hint
    assert diagnostics["start-edge"] == []                     # 420 itself fits


# -- layering: a keyed list merged item by item, each item's positions from the file that wrote it


BASE_TEXT = """\
kind: InferenceWorkload
spec:
  env:
    - {name: A, value: a}
    - name: B
      valueFrom: {secretKeyRef: {name: s, key: k}}
    - {name: C, value: c}
  scheduling: {nodePools: [l40s, h100]}
"""
OVER_TEXT = """\
kind: InferenceWorkload
spec:
  scheduling: {nodePools: [a100]}
  env:
    - {name: D, value: d}
    - {name: B, value: b2}
    - {name: C, remove: true}
"""


def test_layering_merges_an_env_list_by_name_with_each_items_position():
    base, problems = parse(BASE_TEXT, "base.yaml")
    assert base is not None and not problems
    over, problems = parse(OVER_TEXT, "over.yaml")
    assert over is not None and not problems
    merged = merge(base, over)
    assert merged.data["spec"]["env"] == [{"name": "A", "value": "a"}, {"name": "B", "value": "b2"},
                                          {"name": "C", "remove": True}, {"name": "D", "value": "d"}]
    at = merged.where
    assert at(("spec", "env", 0)) == ("base.yaml", 4, 7)
    assert at(("spec", "env", 0, "value")) == ("base.yaml", 4, 24)
    assert at(("spec", "env", 1)) == ("over.yaml", 6, 7)                # replaced in place
    assert at(("spec", "env", 1, "value")) == ("over.yaml", 6, 24)
    assert at(("spec", "env", 1, "value"), key=True) == ("over.yaml", 6, 17)
    assert at(("spec", "env", 2, "remove")) == ("over.yaml", 7, 25)
    assert at(("spec", "env", 3, "name")) == ("over.yaml", 5, 14)       # appended
    # nothing of the replaced items' own fields is left pointing into the base
    assert ("spec", "env", 1, "valueFrom") not in merged.positions
    assert ("spec", "env", 2, "value") not in merged.positions
    # a list that is not keyed is replaced as a whole
    assert merged.data["spec"]["scheduling"]["nodePools"] == ["a100"]
    assert at(("spec", "scheduling", "nodePools", 0)) == ("over.yaml", 3, 28)
    assert ("spec", "scheduling", "nodePools", 1) not in merged.positions


def test_layering_merges_the_environments_nim_env_by_name():
    base, _ = parse("kind: Environment\nspec:\n  nim:\n    env: [{name: A, value: a}, {name: B, value: b}]\n",
                    "base.yaml")
    over, _ = parse("kind: Environment\nspec:\n  nim:\n    env: [{name: B, remove: true}, {name: C, value: c}]\n",
                    "over.yaml")
    assert base is not None and over is not None
    merged = merge(base, over)
    assert [e["name"] for e in merged.data["spec"]["nim"]["env"]] == ["A", "B", "C"]
    assert merged.data["spec"]["nim"]["env"][1] == {"name": "B", "remove": True}
    assert merged.where(("spec", "nim", "env", 0))[0] == "base.yaml"
    assert merged.where(("spec", "nim", "env", 1, "remove"))[0] == "over.yaml"


def test_a_url_with_user_information_is_redacted_wherever_a_message_repeats_it():
    from nimgen.diagnostics import safe
    shown = safe("cannot reach http://svc-user:s3cr3tpass@proxy.corp.example.com:3128 (hf_" + "a" * 30 + ")")
    assert "s3cr3tpass" not in shown and "svc-user" not in shown and "hf_aaaa" not in shown
    assert "http://<redacted>@proxy.corp.example.com:3128" in shown


def test_the_warmup_gets_the_servers_variables_as_the_layers_leave_them(out):
    job_env = env_of(job_container(warmup_job(out, "mirror", "redirected")))
    assert job_env["NIM_REPOSITORY_OVERRIDE"] == "s3://nim-mirror/"
    assert job_env["NIM_LOG_LEVEL"] == "INFO" and "NIM_JSONL_LOGGING" not in job_env
    assert job_env["NIM_REPOSITORY_OVERRIDE"] == server_env(out, "mirror", "redirected")["NIM_REPOSITORY_OVERRIDE"]


def test_adapters_from_a_bucket_run_the_pod_as_the_service_account_holding_its_credentials(out):
    pod = predictor(out, "lora", "s3-account")
    assert pod["serviceAccountName"] == "adapter-reader"
    assert pod.get("automountServiceAccountToken") is not False     # a cloud's workload identity may read it
    assert [u["uri"] for u in pod["storageUris"]] == ["s3://team/adapters"]


def test_adapters_from_a_hugging_face_repository_are_refused(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-hf-uri")
    assert_at(error, misuse_repo, workload_file("lora-hf-uri", "w"), "spec", "lora", "source", "uri", "url")
    assert "one folder per adapter" in error.message


def test_a_pod_runs_as_one_service_account_for_both_downloads(diagnostics, misuse_repo):
    error = only_error(diagnostics, "lora-two-accounts")
    assert_at(error, misuse_repo, workload_file("lora-two-accounts", "w"), "spec", "lora", "source", "uri",
              "serviceAccount")
    assert "'adapter-reader'" in error.message and "'model-reader'" in error.message


# property: for any base and environment lists of distinct names, the merged list is the base's names in order with
# the environment's entries replacing theirs in place and its new names after, each item positioned in its file

from hypothesis import given, settings, strategies as st  # noqa: E402

NAMES = st.lists(st.sampled_from(["A", "B", "C", "D", "E", "F"]), unique=True, max_size=6)


def env_text(kind: str, entries: list[tuple[str, str | None]]) -> str:
    items = ", ".join(f"{{name: {n}, remove: true}}" if v is None else f"{{name: {n}, value: {v}}}" for n, v in entries)
    return f"kind: {kind}\nspec:\n  env: [{items}]\n"


@settings(max_examples=60, deadline=None)
@given(base=NAMES, over=NAMES, removals=st.sets(st.sampled_from(["A", "B", "C", "D", "E", "F"])))
def test_a_keyed_merge_is_a_replace_in_place_then_append(base, over, removals):
    base_doc, _ = parse(env_text("InferenceWorkload", [(n, "base") for n in base]), "base.yaml")
    over_entries = [(n, None if n in removals else "over") for n in over]
    over_doc, _ = parse(env_text("InferenceWorkload", over_entries), "over.yaml")
    assert base_doc is not None and over_doc is not None
    merged = merge(base_doc, over_doc)
    names = [e["name"] for e in merged.data["spec"]["env"]]
    assert names == base + [n for n in over if n not in base]
    for i, entry in enumerate(merged.data["spec"]["env"]):
        from_over = entry["name"] in over
        assert merged.where(("spec", "env", i, "name"))[0] == ("over.yaml" if from_over else "base.yaml")
        assert entry.get("value") == ("base" if not from_over else None if entry["name"] in removals else "over")


def test_the_readme_names_the_cluster_wide_settings_kserves_storage_initializer_needs_behind_a_proxy(built):
    needs = [line for line in (built / "out" / "proxy" / "README.md").read_text().splitlines()
             if "storage initializer" in line]
    assert len(needs) == 1 and "`from-bucket`" in needs[0] and "`inherits`" not in needs[0]
    assert "ClusterStorageContainer" in needs[0] and "caBundleConfigMapName" in needs[0]
    assert not any("storage initializer" in line for line in (built / "out" / "mirror" / "README.md").read_text().splitlines())
