"""What a workload's store means for the pods that use it, read from the objects a build wrote: NIM reads and
writes its cache at NIM_CACHE_PATH, so that path must be where the cache volume is mounted; a cache claim that
replicas on several nodes mount must be ReadWriteMany (a ReadWriteOnce volume attaches to one node and the other
replicas stay Pending), from the environment's shared storage class; a pre-staged claim is mounted read-only;
the warm-up Job fills the very claim the server mounts, with the profile the server loads; the NGC key reaches
both from its Secret, never as a literal; and an object store is what KServe's storage initializer downloads
(storageUris from KServe 0.16, STORAGE_URI in the container before it), with the credentials it reads (the
service account's secrets, or the HF token Secret of an hf:// URI) and NIM pointed at where the files land.

One repository, built once (environments `store`, on KServe 0.20, and `legacy`, on KServe 0.15); the refused
inputs live in environment `refused`, which is only resolved."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conftest import UPSTREAM_SCHEMAS, run
from meaning import (ONE_GPU, Objects, add_datasource, add_environment, add_project, add_workload, bare_repo, out_objects,
                     replicas)
from nimgen.diagnostics import BuildFailed, Diagnostic
from nimgen.usecases import compile_all

NGC = {"secret": "ngc-api"}
NGC_KEY = "NGC_API_KEY"                                           # the key NIM reads and the Secret's default key
SHARED_CLASS, DEFAULT_CLASS = "nfs-rwx", "standard-rwo"          # the fixture's base environment
DEFAULT_PULL_SECRET = "ngc-secret"                                # the conventional pull Secret for nvcr.io
STAGED_PATH = "/nim-cache/llama-3.1-8b"
KSERVE_MODEL_DIR = "/mnt/models"       # where KServe's storage initializer writes a storage URI's files
STORAGE_SECRET = "serving.kserve.io/storageSecretName"           # KServe mounts this Secret into the initializer
S3, HF, GS = "s3://models/llama-3.1-8b", "hf://meta-llama/Llama-3.1-8B-Instruct", "gs://models/llama-3.1-8b"

DATASOURCES = {
    "cache": {"pvc": {"size": "100Gi"}},                                           # access mode decided per workload
    "cache-fast": {"pvc": {"size": "250Gi", "storageClass": "fast-rwx"}},
    "cache-rwo": {"pvc": {"size": "100Gi", "accessMode": "ReadWriteOnce"}},
    "cache-rwop": {"pvc": {"size": "100Gi", "accessMode": "ReadWriteOncePod"}},
    "prepared": {"existingClaim": "prepared-cache"},
}
KEYED = {"secret": "ngc-team-key", "secretKey": "api-key", "pullSecret": "nvcr-pull"}
# workload -> spec beyond ONE_GPU, in project team of environment store
WORKLOADS = {
    "shared": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache"}}}, "scaling": replicas(1, 3)},
    "single": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache"}}}, "scaling": replicas(1)},
    "fast": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache-fast"}}}, "scaling": replicas(1, 2)},
    "pinned-rwo": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache-rwo"}}}, "scaling": replicas(1)},
    "warm": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache", "warmup": True}}}, "scaling": replicas(1, 2)},
    "keyed": {"store": {"ngc": {**KEYED, "cache": {"dataSource": "cache", "warmup": True}}}, "scaling": replicas(1)},
    "existing": {"store": {"ngc": {**NGC, "cache": {"dataSource": "prepared"}}}, "scaling": replicas(1, 2)},
    "no-cache": {"store": {"ngc": NGC}, "scaling": replicas(1)},
    "staged": {"store": {"pvc": {"claim": "weights", "path": STAGED_PATH}}, "scaling": replicas(1, 2)},
    "staged-xl": {"store": {"pvc": {"claim": "weights", "path": "/XL-models/llama-3.1-8b/"}}, "scaling": replicas(1)},
    "fetched": {"store": {"uri": S3}, "scaling": replicas(1)},
    "s3-account": {"store": {"uri": {"url": S3, "serviceAccount": "s3-reader"}}, "scaling": replicas(1)},
    "hf-token": {"store": {"uri": {"url": HF, "tokenSecret": "hf-token"}}, "scaling": replicas(1)},
}
# in project meshed of environment store: token access puts the namespace in the (sidecar) mesh
MESHED = {"guarded": {"store": {"uri": GS}, "access": {"type": "authenticated"}, "scaling": replicas(1)}}
URI_STORES = {"fetched": S3, "s3-account": S3, "hf-token": HF}
LEGACY = {name: WORKLOADS[name] for name in URI_STORES}            # the same uri stores on KServe 0.15
REFUSED = {
    "rwo-shared": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache-rwo"}}}, "scaling": replicas(1, 3)},
    "rwop-shared": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache-rwop"}}}, "scaling": replicas(2)},
    "typo": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cahce"}}}, "scaling": replicas(1)},
    "broken-ref": {"store": {"ngc": {**NGC, "cache": {"dataSource": "broken"}}}, "scaling": replicas(1)},
    "s3-token": {"store": {"uri": {"url": S3, "tokenSecret": "hf-token"}}, "scaling": replicas(1)},
}
BROKEN = "environments/refused/templates/datasources/broken.yaml"   # a data source of refused alone, invalid
BUILT = ("store", "legacy")


@pytest.fixture(scope="module")
def storage_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("storage") / "repo")
    for name, spec in DATASOURCES.items():
        add_datasource(root, name, spec)
    add_environment(root, "store", {})
    add_environment(root, "legacy", {"kserve": {"version": "0.15"}})
    add_environment(root, "refused", {})
    for env, project, workloads in (("store", "team", WORKLOADS), ("store", "meshed", MESHED),
                                    ("legacy", "team", LEGACY), ("refused", "team", REFUSED)):
        add_project(root, env, project, {"gpus": 32})
        for name, spec in workloads.items():
            add_workload(root, env, project, name, {**ONE_GPU, **spec})
    # no size: fails validation, so the workload naming it must not also report an unknown data source
    add_datasource(root / "environments" / "refused", "broken", {"pvc": {"accessMode": "ReadWriteMany"}})
    return root


@pytest.fixture(scope="module")
def built(storage_repo: Path) -> dict[str, Objects]:
    result = run(storage_repo, "build", *(arg for env in BUILT for arg in ("--env", env)))
    assert result.exit_code == 0, result.stderr
    return {env: Objects(out_objects(storage_repo, env)) for env in BUILT}


@pytest.fixture(scope="module")
def out(built: dict[str, Objects]) -> Objects:
    return built["store"]


def predictor(out: Objects, name: str, project: str = "team") -> dict[str, Any]:
    return out.get("InferenceService", name, project)["spec"]["predictor"]


def server(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["containers"]
    return container


def env_var(container: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = [e for e in container.get("env", []) if e["name"] == name]
    assert len(found) <= 1, f"{name} set {len(found)} times"
    return found[0] if found else None


def env_value(container: dict[str, Any], name: str) -> str:
    var = env_var(container, name)
    assert var is not None and set(var) == {"name", "value"}, var
    return var["value"]


def secret_ref(container: dict[str, Any], name: str) -> dict[str, Any]:
    """The Secret and key an env var is read from: only ever a reference, never a value."""
    var = env_var(container, name)
    assert var is not None and set(var) == {"name", "valueFrom"} and set(var["valueFrom"]) == {"secretKeyRef"}, var
    return var["valueFrom"]["secretKeyRef"]


def cache_mount(pod: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mount at the container's NIM_CACHE_PATH and the pod volume behind it (there must be exactly one)."""
    container = server(pod)
    path = env_value(container, "NIM_CACHE_PATH")
    (mount,) = [m for m in container.get("volumeMounts", []) if m["mountPath"] == path]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    return mount, volume


def claim_of(out: Objects, name: str) -> dict[str, Any]:
    """The PersistentVolumeClaim nimgen rendered behind the server's cache mount."""
    _, volume = cache_mount(predictor(out, name))
    return out.get("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"], "team")


def data_source_of(name: str) -> str:
    return WORKLOADS[name]["store"]["ngc"]["cache"]["dataSource"]


def readme(storage_repo: Path, env: str) -> str:
    return (storage_repo / "out" / env / "README.md").read_text()


# -- the cache claim's access mode follows the replicas that mount it


def test_a_cache_shared_by_several_replicas_is_read_write_many_from_the_shared_class(out):
    assert predictor(out, "shared")["maxReplicas"] == 3
    claim = claim_of(out, "shared")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == SHARED_CLASS


def test_a_cache_of_one_replica_is_read_write_once_from_the_default_class(out):
    assert predictor(out, "single")["maxReplicas"] == 1
    claim = claim_of(out, "single")
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["storageClassName"] == DEFAULT_CLASS


def test_a_data_source_storage_class_is_kept_and_still_read_write_many_when_shared(out):
    claim = claim_of(out, "fast")
    assert (claim["spec"]["accessModes"], claim["spec"]["storageClassName"]) == (["ReadWriteMany"], "fast-rwx")


def test_an_explicit_read_write_once_data_source_serves_a_single_replica(out):
    claim = claim_of(out, "pinned-rwo")
    assert (claim["spec"]["accessModes"], claim["spec"]["storageClassName"]) == (["ReadWriteOnce"], DEFAULT_CLASS)


def test_every_claim_several_replicas_may_mount_read_write_is_read_write_many(out):
    for isvc in out.of("InferenceService"):
        pod = isvc["spec"]["predictor"]
        for volume in pod.get("volumes", []):
            source = volume.get("persistentVolumeClaim")
            claim = source and out.find("PersistentVolumeClaim", source["claimName"], "team")
            if claim is not None and pod["maxReplicas"] > 1 and not source.get("readOnly"):
                assert claim["spec"]["accessModes"] == ["ReadWriteMany"], isvc["metadata"]["name"]


def test_a_cache_claim_requests_its_data_sources_size_and_names_the_data_source(out):
    for name in ("shared", "single", "fast", "pinned-rwo", "warm", "keyed"):
        claim = claim_of(out, name)
        source = data_source_of(name)
        # the storage a provisioner sizes the volume by: spec.resources.requests.storage, nothing else
        assert claim["spec"]["resources"] == {"requests": {"storage": DATASOURCES[source]["pvc"]["size"]}}, name
        # (a warm-up's claim is also in the warm-up's Argo CD sync wave)
        assert {k: v for k, v in claim["metadata"]["annotations"].items()
                if k != "argocd.argoproj.io/sync-wave"} == {"nimgen.dev/data-source": source}, name


# -- a data source a workload cannot use


@pytest.fixture(scope="module")
def refused(storage_repo: Path) -> list[Diagnostic]:
    """Environment refused resolved once (no rendering): every error it reports."""
    with pytest.raises(BuildFailed) as failed:
        compile_all(storage_repo, ["refused"], render=False)
    return [d for d in failed.value.diagnostics if d.severity == "error"]


def errors_in(refused: list[Diagnostic], file: str) -> list[Diagnostic]:
    return [d for d in refused if d.file == file]


def line_of(root: Path, file: str, key: str) -> int:
    """The 1-based line of `key:` in a file this module wrote (each key is on one line only)."""
    lines = (root / file).read_text().splitlines()
    (line,) = [n for n, text in enumerate(lines, 1) if text.lstrip().startswith(f"{key}:")]
    return line


@pytest.mark.parametrize(("name", "mode"), [("rwo-shared", "ReadWriteOnce"), ("rwop-shared", "ReadWriteOncePod")])
def test_a_single_node_data_source_for_several_replicas_is_an_error_at_the_data_source(refused, name, mode):
    (error,) = errors_in(refused, f"environments/refused/workloads/{name}.yaml")
    assert error.path == "spec.store.ngc.cache.dataSource" and f"is {mode}, but up to" in error.message
    assert "ReadWriteMany" in error.hint


def test_an_unknown_data_source_is_an_error_at_the_workloads_data_source_with_the_likely_name(refused, storage_repo):
    file = "environments/refused/workloads/typo.yaml"
    (error,) = errors_in(refused, file)
    assert (error.path, error.line) == ("spec.store.ngc.cache.dataSource", line_of(storage_repo, file, "dataSource"))
    assert "unknown data source 'cahce'" in error.message
    assert error.hint == "did you mean 'cache'?"


def test_an_invalid_data_source_is_reported_once_in_its_own_file_not_again_as_unknown(refused):
    assert errors_in(refused, "environments/refused/workloads/broken-ref.yaml") == []
    (own,) = errors_in(refused, BROKEN)                               # its own problem, where it can be fixed
    assert own.path == "spec.pvc.size"


def test_a_token_secret_on_an_object_store_is_an_error_at_the_token_secret(refused, storage_repo):
    file = "environments/refused/workloads/s3-token.yaml"
    (error,) = errors_in(refused, file)
    assert (error.path, error.line) == ("spec.store.uri.tokenSecret", line_of(storage_repo, file, "tokenSecret"))
    assert error.message.endswith("not s3://")          # names the scheme it was given
    assert "serviceAccount" in error.hint             # where an object store's credentials go instead


def test_the_refused_environment_reports_nothing_else(refused):
    assert {d.file for d in refused} == {f"environments/refused/workloads/{name}.yaml" for name in REFUSED
                                         if name != "broken-ref"} | {BROKEN}


# -- NIM_CACHE_PATH is where the cache volume is mounted


def test_the_cache_path_of_an_ngc_store_is_its_cache_claim(out):
    for name in ("shared", "single", "fast", "warm", "keyed"):
        mount, volume = cache_mount(predictor(out, name))
        assert not mount.get("readOnly") and not volume["persistentVolumeClaim"].get("readOnly")   # NIM writes it
        assert out.find("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"], "team") is not None, name


def test_an_existing_claim_is_mounted_by_name_and_not_rendered(out):
    _, volume = cache_mount(predictor(out, "existing"))
    assert volume["persistentVolumeClaim"]["claimName"] == "prepared-cache"
    assert out.find("PersistentVolumeClaim", "prepared-cache") is None


def test_an_ngc_store_without_a_cache_writes_to_an_empty_dir(out):
    _, volume = cache_mount(predictor(out, "no-cache"))
    assert "emptyDir" in volume and "persistentVolumeClaim" not in volume


def test_claims_are_rendered_exactly_for_the_cache_data_sources_nimgen_sizes(out):
    mounted = {name: cache_mount(predictor(out, name))[1].get("persistentVolumeClaim", {}).get("claimName")
               for name in WORKLOADS if name not in URI_STORES}
    sized = {name for name, spec in WORKLOADS.items()
             if "pvc" in DATASOURCES.get(spec["store"].get("ngc", {}).get("cache", {}).get("dataSource"), {})}
    assert {c["metadata"]["name"] for c in out.of("PersistentVolumeClaim")} == {mounted[name] for name in sized}


def test_a_pvc_store_is_mounted_read_only_at_the_cache_path_from_its_folder(out):
    pod = predictor(out, "staged")
    mount, volume = cache_mount(pod)
    assert volume["persistentVolumeClaim"] == {"claimName": "weights", "readOnly": True}
    assert mount["readOnly"] is True and mount["subPath"] == STAGED_PATH.lstrip("/")
    assert out.find("PersistentVolumeClaim", "weights") is None     # pre-staged: nimgen does not own it


def test_a_pvc_folder_is_a_sub_path_relative_to_the_claim_with_its_name_kept_whole(out):
    # kubelet joins subPath to the volume's root: no leading or trailing '/', and the folder name as written
    mount, _ = cache_mount(predictor(out, "staged-xl"))
    assert mount["subPath"] == "XL-models/llama-3.1-8b"


# -- an object store: what KServe's storage initializer downloads, and where NIM finds it


def test_a_uri_store_is_read_where_kserves_storage_initializer_puts_it(out):
    for name, uri in URI_STORES.items():
        pod = predictor(out, name)
        assert pod["storageUris"] == [{"uri": uri, "mountPath": KSERVE_MODEL_DIR}], name
        assert env_value(server(pod), "NIM_CACHE_PATH") == KSERVE_MODEL_DIR
        assert env_var(server(pod), "STORAGE_URI") is None            # storageUris alone, from KServe 0.16
        assert not [m for m in server(pod)["volumeMounts"] if m["mountPath"] == KSERVE_MODEL_DIR]   # KServe mounts it


def test_before_kserve_0_16_the_storage_initializer_reads_storage_uri_from_the_container(built):
    legacy = built["legacy"]
    for name, uri in URI_STORES.items():
        pod = predictor(legacy, name)
        assert "storageUris" not in pod and "storageUri" not in pod, name     # 0.15 has no storageUris field
        assert env_value(server(pod), "STORAGE_URI") == uri
        assert env_value(server(pod), "NIM_CACHE_PATH") == KSERVE_MODEL_DIR


def test_object_store_credentials_come_from_the_service_account_kserve_reads(built, storage_repo):
    for env, objects in built.items():
        assert predictor(objects, "s3-account")["serviceAccountName"] == "s3-reader", env
        for name in ("fetched", "hf-token"):
            assert "serviceAccountName" not in predictor(objects, name), (env, name)
        # the operator is told which account must hold the object store's secrets, in the workload's namespace
        (line,) = [x for x in readme(storage_repo, env).splitlines() if "ServiceAccounts" in x]
        assert "`team/s3-reader`" in line


def test_an_hf_token_reaches_the_storage_initializer_and_nim_from_its_secret(built, storage_repo):
    for env, objects in built.items():
        isvc = objects.get("InferenceService", "hf-token", "team")
        assert isvc["metadata"]["annotations"][STORAGE_SECRET] == "hf-token"
        container = server(isvc["spec"]["predictor"])
        assert secret_ref(container, "HF_TOKEN") == {"name": "hf-token", "key": "HF_TOKEN"}
        # a multi-LLM NIM loads the model named by NIM_MODEL_NAME: the folder the initializer filled
        assert env_value(container, "NIM_MODEL_NAME") == KSERVE_MODEL_DIR
        (line,) = [x for x in readme(storage_repo, env).splitlines() if "HF_TOKEN" in x]
        assert "`team/hf-token`" in line


def test_only_an_hf_uri_names_a_model_folder_and_a_token_secret(built):
    for env, objects in built.items():
        for name in ("fetched", "s3-account"):
            isvc = objects.get("InferenceService", name, "team")
            assert STORAGE_SECRET not in isvc["metadata"].get("annotations", {}), (env, name)
            container = server(isvc["spec"]["predictor"])
            assert env_var(container, "NIM_MODEL_NAME") is None and env_var(container, "HF_TOKEN") is None


def test_a_namespace_with_a_storage_initializer_admits_it_under_pod_security_baseline(out):
    # KServe's storage initializer sets no securityContext: "restricted" would refuse the predictor pod
    labels = out.get("Namespace", "team")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"


def test_a_storage_initializer_in_the_mesh_runs_after_a_native_sidecar_proxy(out):
    # in a sidecar mesh the initializer's downloads go through the proxy, which must already run
    assert predictor(out, "guarded", "meshed")["annotations"] == {"sidecar.istio.io/nativeSidecar": "true"}
    assert "annotations" not in predictor(out, "fetched")              # outside the mesh: nothing to wait for


# -- the NGC key and the image pull Secret


def ngc_pods(out: Objects) -> list[tuple[str, dict[str, Any]]]:
    """Every pod spec that runs NIM from NGC: the predictors of ngc stores and the warm-up Jobs."""
    pods = [(n, predictor(out, n)) for n, spec in WORKLOADS.items() if "ngc" in spec["store"]]
    return pods + [(j["metadata"]["name"].split("-warmup-")[0], j["spec"]["template"]["spec"]) for j in out.of("Job")]


def test_the_ngc_key_is_read_from_the_named_secret_under_the_given_key_or_ngc_api_key(out):
    for name, pod in ngc_pods(out):
        ngc = WORKLOADS[name]["store"]["ngc"]
        assert secret_ref(server(pod), NGC_KEY) == {"name": ngc["secret"], "key": ngc.get("secretKey", NGC_KEY)}, name


def test_no_container_in_out_carries_an_ngc_key_value(built, storage_repo):
    for objects in built.values():
        for obj in objects.all:
            spec = obj.get("spec", {})
            pod = spec.get("predictor") or spec.get("template", {}).get("spec")
            for container in (pod or {}).get("containers", []):
                var = env_var(container, NGC_KEY)
                assert var is None or "value" not in var, obj["metadata"]["name"]
    assert all(b"nvapi-" not in p.read_bytes() for p in (storage_repo / "out").rglob("*") if p.is_file())


def test_an_ngc_pull_secret_is_what_the_server_and_the_warmup_pull_with(out):
    for name, pod in ngc_pods(out):
        expected = WORKLOADS[name]["store"]["ngc"].get("pullSecret", DEFAULT_PULL_SECRET)
        assert pod["imagePullSecrets"] == [{"name": expected}], name


# -- the warm-up fills what the server reads


def warmup_job(out: Objects, name: str) -> dict[str, Any]:
    jobs = [j for j in out.of("Job", "team") if j["metadata"]["name"].startswith(f"{name}-warmup-")]
    (job,) = jobs
    return job


def test_the_warmup_job_fills_the_claim_the_server_mounts_at_the_same_cache_path(out):
    for name in ("warm", "keyed"):
        job_pod = warmup_job(out, name)["spec"]["template"]["spec"]
        server_pod = predictor(out, name)
        job_mount, job_volume = cache_mount(job_pod)
        server_mount, server_volume = cache_mount(server_pod)
        assert job_volume["persistentVolumeClaim"]["claimName"] == server_volume["persistentVolumeClaim"]["claimName"]
        assert job_mount["mountPath"] == server_mount["mountPath"] and not job_mount.get("readOnly")
        assert env_value(server(job_pod), "NIM_CACHE_PATH") == env_value(server(server_pod), "NIM_CACHE_PATH")


def test_the_warmup_job_downloads_the_profile_and_image_the_server_runs(out):
    job = server(warmup_job(out, "warm")["spec"]["template"]["spec"])
    nim = server(predictor(out, "warm"))
    assert job["image"] == nim["image"]
    assert job["command"] == ["download-to-cache", "--profile", env_value(nim, "NIM_MODEL_PROFILE")]


def test_the_warmup_pod_retries_in_place_until_its_download_completes(out):
    job = warmup_job(out, "warm")
    pod = job["spec"]["template"]["spec"]
    # a Job's pod may only be OnFailure or Never; OnFailure restarts the download in the same pod and volume
    assert pod["restartPolicy"] == "OnFailure"
    assert [c["name"] for c in pod["containers"]] == ["download-to-cache"]
    assert job["spec"]["backoffLimit"] >= 1


def test_only_a_warmup_cache_gets_a_job(out):
    assert sorted(j["metadata"]["name"].split("-warmup-")[0] for j in out.of("Job")) == ["keyed", "warm"]


# -- what `nimgen explain` says a cache claim came from


@pytest.fixture(scope="module")
def explained(storage_repo: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """`nimgen explain store <workload>`: path -> (value, origin) of each effective value it lists."""
    found = {}
    for name in ("shared", "warm"):
        result = run(storage_repo, "explain", "store", name)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.split("effective spec (value  <- origin):\n")[1].split("\n\n")[0].splitlines()
        found[name] = {}
        for line in lines:
            left, origin = line.rsplit("  <- ", 1)
            path, value = left.strip().split("  ", 1)
            found[name][path] = (value.strip(), origin)
    return found


def test_explain_shows_the_cache_claim_as_rendered_and_the_data_source_file_it_came_from(explained, out):
    value, origin = explained["shared"]["cache.pvc"]
    claim = claim_of(out, "shared")["spec"]
    assert json.loads(value) == {"size": claim["resources"]["requests"]["storage"], "accessMode": claim["accessModes"][0],
                                 "storageClass": claim["storageClassName"]}
    assert origin == "data source cache (templates/datasources/cache.yaml)"


def test_explain_shows_the_ngc_secret_and_whether_the_cache_is_warmed_up(explained):
    value, origin = explained["shared"]["spec.store.ngc.secret"]
    assert (value, origin.split(":")[0]) == ("ngc-api", "environment (environments/store/workloads/shared.yaml")
    assert explained["shared"]["spec.store.ngc.cache.warmup"] == ("false", "default")
    assert explained["warm"]["spec.store.ngc.cache.warmup"][0] == "true"


# -- the custom resources, as their controllers' CRDs read them


@functools.cache
def upstream_schema(api_version: str, kind: str) -> Draft202012Validator | None:
    group, _, version = api_version.rpartition("/")
    path = UPSTREAM_SCHEMAS / group / f"{kind.lower()}_{version}.json"
    return Draft202012Validator(json.loads(path.read_text())) if group and path.is_file() else None


def upstream_errors(obj: dict[str, Any]) -> list[str] | None:
    """The upstream CRD schema's complaints about an object (None: no upstream schema for its kind)."""
    validator = upstream_schema(obj["apiVersion"], obj["kind"])
    if validator is None:
        return None
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


@pytest.mark.skipif(not UPSTREAM_SCHEMAS.is_dir(), reason="../shared/crds/jsonschema not present")
def test_every_custom_resource_passes_its_upstream_crd_schema(built):
    found = {(env, o["kind"], o["metadata"]["name"]): upstream_errors(o)
             for env, objects in built.items() for o in objects.all}
    checked = {k for k, v in found.items() if v is not None}
    assert {("store", "InferenceService", "hf-token"), ("legacy", "InferenceService", "hf-token")} <= checked
    assert {k: v for k, v in found.items() if v} == {}
