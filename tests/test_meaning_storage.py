"""What a workload's store means for the pods that use it, read from the objects a build wrote: NIM reads and
writes its cache at NIM_CACHE_PATH, so that path must be where the cache volume is mounted; a cache claim that
replicas on several nodes mount must be ReadWriteMany (a ReadWriteOnce volume attaches to one node and the other
replicas stay Pending), from the environment's shared storage class; a pre-staged claim is mounted read-only;
and the warm-up Job fills the very claim the server mounts, with the profile the server loads.

One repository, built once (environment `store`); the refused data sources live in environment `refused`, which
is only resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import errors_of, run
from meaning import (ONE_GPU, Objects, add_datasource, add_environment, add_project, add_workload, bare_repo, out_objects,
                     replicas)

NGC = {"secret": "ngc-api"}
SHARED_CLASS, DEFAULT_CLASS = "nfs-rwx", "standard-rwo"          # the fixture's base environment
STAGED_PATH = "/nim-cache/llama-3.1-8b"

DATASOURCES = {
    "cache": {"pvc": {"size": "100Gi"}},                                           # access mode decided per workload
    "cache-fast": {"pvc": {"size": "100Gi", "storageClass": "fast-rwx"}},
    "cache-rwo": {"pvc": {"size": "100Gi", "accessMode": "ReadWriteOnce"}},
    "cache-rwop": {"pvc": {"size": "100Gi", "accessMode": "ReadWriteOncePod"}},
    "prepared": {"existingClaim": "prepared-cache"},
}
# workload -> spec beyond ONE_GPU
WORKLOADS = {
    "shared": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache"}}}, "scaling": replicas(1, 3)},
    "single": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache"}}}, "scaling": replicas(1)},
    "fast": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache-fast"}}}, "scaling": replicas(1, 2)},
    "pinned-rwo": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache-rwo"}}}, "scaling": replicas(1)},
    "warm": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache", "warmup": True}}}, "scaling": replicas(1, 2)},
    "existing": {"store": {"ngc": {**NGC, "cache": {"dataSource": "prepared"}}}, "scaling": replicas(1, 2)},
    "no-cache": {"store": {"ngc": NGC}, "scaling": replicas(1)},
    "staged": {"store": {"pvc": {"claim": "weights", "path": STAGED_PATH}}, "scaling": replicas(1, 2)},
    "fetched": {"store": {"uri": "s3://models/llama-3.1-8b"}, "scaling": replicas(1)},
}
REFUSED = {
    "rwo-shared": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache-rwo"}}}, "scaling": replicas(1, 3)},
    "rwop-shared": {"store": {"ngc": {**NGC, "cache": {"dataSource": "cache-rwop"}}}, "scaling": replicas(2)},
}


@pytest.fixture(scope="module")
def storage_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("storage") / "repo")
    for name, spec in DATASOURCES.items():
        add_datasource(root, name, spec)
    for env, workloads in (("store", WORKLOADS), ("refused", REFUSED)):
        add_environment(root, env, {})
        add_project(root, env, "team", {"gpus": 32})
        for name, spec in workloads.items():
            add_workload(root, env, "team", name, {**ONE_GPU, **spec})
    return root


@pytest.fixture(scope="module")
def out(storage_repo: Path) -> Objects:
    result = run(storage_repo, "build", "--env", "store")
    assert result.exit_code == 0, result.stderr
    return Objects(out_objects(storage_repo, "store"))


def predictor(out: Objects, name: str) -> dict[str, Any]:
    return out.get("InferenceService", name, "team")["spec"]["predictor"]


def server(pod: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod["containers"]
    return container


def env_value(container: dict[str, Any], name: str) -> str:
    (value,) = [e["value"] for e in container.get("env", []) if e["name"] == name]
    return value


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


@pytest.fixture(scope="module")
def refused(storage_repo: Path) -> list[str]:
    return errors_of(storage_repo, "refused")


@pytest.mark.parametrize(("name", "mode"), [("rwo-shared", "ReadWriteOnce"), ("rwop-shared", "ReadWriteOncePod")])
def test_a_single_node_data_source_for_several_replicas_is_an_error_at_the_data_source(refused, name, mode):
    (error,) = [e for e in refused if e.startswith(f"environments/refused/workloads/{name}.yaml:")]
    assert ": spec.store.ngc.cache.dataSource: " in error and f"is {mode}, but up to" in error
    assert "ReadWriteMany" in error


# -- NIM_CACHE_PATH is where the cache volume is mounted


def test_the_cache_path_of_an_ngc_store_is_its_cache_claim(out):
    for name in ("shared", "single", "fast", "warm"):
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
               for name in WORKLOADS if "uri" not in WORKLOADS[name]["store"]}
    sized = {name for name, spec in WORKLOADS.items()
             if "pvc" in DATASOURCES.get(spec["store"].get("ngc", {}).get("cache", {}).get("dataSource"), {})}
    assert {c["metadata"]["name"] for c in out.of("PersistentVolumeClaim")} == {mounted[name] for name in sized}


def test_a_pvc_store_is_mounted_read_only_at_the_cache_path_from_its_folder(out):
    pod = predictor(out, "staged")
    mount, volume = cache_mount(pod)
    assert volume["persistentVolumeClaim"] == {"claimName": "weights", "readOnly": True}
    assert mount["readOnly"] is True and mount["subPath"] == STAGED_PATH.lstrip("/")
    assert out.find("PersistentVolumeClaim", "weights") is None     # pre-staged: nimgen does not own it


def test_a_uri_store_is_read_where_kserves_storage_initializer_puts_it(out):
    pod = predictor(out, "fetched")
    (uri,) = pod["storageUris"]
    assert uri["uri"] == "s3://models/llama-3.1-8b"
    assert env_value(server(pod), "NIM_CACHE_PATH") == uri["mountPath"]


# -- the warm-up fills what the server reads


def warmup_job(out: Objects, name: str) -> dict[str, Any]:
    jobs = [j for j in out.of("Job", "team") if j["metadata"]["name"].startswith(f"{name}-warmup-")]
    (job,) = jobs
    return job


def test_the_warmup_job_fills_the_claim_the_server_mounts_at_the_same_cache_path(out):
    job_pod = warmup_job(out, "warm")["spec"]["template"]["spec"]
    server_pod = predictor(out, "warm")
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


def test_only_a_warmup_cache_gets_a_job(out):
    assert [j["metadata"]["name"].split("-warmup-")[0] for j in out.of("Job")] == ["warm"]
