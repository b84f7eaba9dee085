"""What a build writes passes the real schemas (kubernetes-validate strict and the upstream CRDs from
../shared), follows the NIM container contract, and never holds a secret. Runs on the test repository's build
and, for the schemas and secrets, on the project's committed out/ whatever environments it holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import PROJECT, UPSTREAM_SCHEMAS, snapshot
from nimgen.verify.schemas import verify_object
from nimgen.usecases import validate


def objects_under(out: Path) -> list[tuple[str, str, dict]]:
    found = []
    for path in sorted(out.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            for doc in yaml.safe_load_all(path.read_text()):
                found.append((path.relative_to(out).parts[0], path.relative_to(out).as_posix(), doc))
    return found


def is_crd(obj: dict) -> bool:
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    return "." in group and not group.endswith(".k8s.io")


def upstream_errors(obj: dict) -> list[str]:
    group, version = obj["apiVersion"].split("/")
    path = UPSTREAM_SCHEMAS / group / f"{obj['kind'].lower()}_{version}.json"
    assert path.exists(), f"no upstream schema for {obj['apiVersion']} {obj['kind']}"
    validator = Draft202012Validator(json.loads(path.read_text()))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]


@pytest.fixture(scope="module")
def fixture_objects(built_once: Path) -> list[tuple[str, str, dict]]:
    return objects_under(built_once / "out")


def test_the_build_covers_every_kind(fixture_objects):
    assert {o["kind"] for _, _, o in fixture_objects} >= {
        "Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy", "InferenceService", "PersistentVolumeClaim",
        "HorizontalPodAutoscaler", "ScaledObject", "Queue", "Job", "PodDisruptionBudget", "RequestAuthentication",
        "AuthorizationPolicy"}


def test_every_object_passes_the_strict_kubernetes_or_crd_schema(built_once: Path, fixture_objects):
    versions = {env: r.environment.kubernetes_version for env, r in validate(built_once).resolved.items()}
    problems = [(f, o["kind"], verify_object(o, versions[env])) for env, f, o in fixture_objects]
    assert [p for p in problems if p[2]] == []


@pytest.mark.skipif(not UPSTREAM_SCHEMAS.is_dir(), reason="../shared/crds/jsonschema not present")
def test_every_crd_object_passes_the_upstream_schema(fixture_objects):
    found = {(f, o["kind"], o["metadata"]["name"]): upstream_errors(o) for _, f, o in fixture_objects if is_crd(o)}
    assert found and {k: v for k, v in found.items() if v} == {}


@pytest.mark.skipif(not UPSTREAM_SCHEMAS.is_dir(), reason="../shared/crds/jsonschema not present")
def test_committed_out_passes_the_upstream_schemas():
    found = {(f, o["kind"]): upstream_errors(o) for _, f, o in objects_under(PROJECT / "out") if is_crd(o)}
    assert {k: v for k, v in found.items() if v} == {}


@pytest.mark.parametrize("out", ["fixture", "committed"])
def test_no_ngc_key_material_anywhere(built_once: Path, out: str):
    """Keys are referenced from Secrets (secretKeyRef), never embedded: scan every byte."""
    folder = built_once / "out" if out == "fixture" else PROJECT / "out"
    key_like = re.compile(rb"nvapi-|NGC_API_KEY\s*[:=]\s*['\"]?[A-Za-z0-9]{20,}")
    for rel, data in snapshot(folder).items():
        assert not key_like.search(data), rel
    for _, _, obj in objects_under(folder):
        if obj["kind"] in ("InferenceService", "Job"):
            spec = obj["spec"]["predictor"] if obj["kind"] == "InferenceService" else obj["spec"]["template"]["spec"]
            for env in (e for c in spec["containers"] for e in c["env"] if e["name"] == "NGC_API_KEY"):
                assert "value" not in env and set(env["valueFrom"]) == {"secretKeyRef"}


def file_objects(built_once: Path, rel: str) -> dict[str, dict]:
    return {o["kind"]: o for o in yaml.safe_load_all((built_once / "out" / rel).read_text())}


def test_inference_service_follows_the_nim_container_contract(built_once: Path):
    isvc = file_objects(built_once, "prod/serve/chat/llama-70b-chat.yaml")["InferenceService"]
    predictor = isvc["spec"]["predictor"]
    (container,) = predictor["containers"]
    # Knative accepts only http1 or h2c as the serving port's name; Standard mode takes it too
    assert container["ports"] == [{"name": "http1", "containerPort": 8000, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/v1/health/live", "port": 8000}
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/health/ready"
    # Standard mode: the Deployment's progress deadline of 600 s holds the start-up window and 180 s to pull the image
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] + 180 == 600
    env = {e["name"]: e for e in container["env"]}
    assert {k: env[k]["value"] for k in ("NIM_SERVER_PORT", "OUTLINES_CACHE_DIR", "NIM_JSONL_LOGGING")} == {
        "NIM_SERVER_PORT": "8000", "OUTLINES_CACHE_DIR": "/tmp/outlines", "NIM_JSONL_LOGGING": "1"}
    assert env["NIM_MODEL_PROFILE"]["value"] == "4fbe63c3f6f9b928dac05fe81a278ac1ad45ccf329850f66bd6cbc0c2f2c044c"
    assert env["NIM_CACHE_PATH"]["value"] == "/opt/nim/.cache"
    assert container["resources"]["requests"] == container["resources"]["limits"] == {
        "cpu": "24", "memory": "192Gi", "nvidia.com/gpu": "2"}
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "32Gi"}} in predictor["volumes"]
    assert predictor["securityContext"]["runAsNonRoot"] is True and predictor["securityContext"]["fsGroup"] == 1000
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "external"


def test_pre_staged_store_is_read_only_and_has_no_ngc_key(built_once: Path):
    predictor = file_objects(built_once, "staging/serve/research/mistral-7b-eval.yaml")["InferenceService"]["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert "NGC_API_KEY" not in {e["name"] for e in container["env"]}
    assert {"name": "nim-cache", "mountPath": "/opt/nim/.cache", "readOnly": True,
            "subPath": "nim-cache/mistral-7b-instruct-v0.3"} in container["volumeMounts"]
    assert {"name": "nim-cache", "persistentVolumeClaim": {"claimName": "mistral-store", "readOnly": True}} in predictor["volumes"]


def test_object_store_goes_through_kserve_storage_uris_and_mig_is_requested(built_once: Path):
    predictor = file_objects(built_once, "staging/serve/research/llama-8b-batch.yaml")["InferenceService"]["spec"]["predictor"]
    assert predictor["storageUris"] == [{"uri": "s3://models/nim-cache/llama-3.1-8b-instruct-1.1.2", "mountPath": "/mnt/models"}]
    assert predictor["containers"][0]["resources"]["limits"]["nvidia.com/mig-3g.40gb"] == "1"


def test_warmup_job_downloads_the_pinned_profile_into_the_claim_the_server_mounts(built_once: Path):
    objects = file_objects(built_once, "prod/prepare/chat/llama-70b-chat.yaml")     # applied first by every applier
    assert set(objects) == {"Job", "PersistentVolumeClaim"}
    job = objects["Job"]
    # a plain Job in wave -1 with its claim: Argo CD starts wave 0 (the InferenceService) once the Job completed,
    # and runs it again only when its (hashed) name changes; a deadline ends a stuck download, and no TTL
    assert job["metadata"]["annotations"] == {"argocd.argoproj.io/sync-wave": "-1"}
    assert objects["PersistentVolumeClaim"]["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-1"
    assert job["spec"]["activeDeadlineSeconds"] >= 3600 and "ttlSecondsAfterFinished" not in job["spec"]
    assert job["spec"]["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"   # it must finish
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["download-to-cache", "--profile",
                                    "4fbe63c3f6f9b928dac05fe81a278ac1ad45ccf329850f66bd6cbc0c2f2c044c"]
    claim = objects["PersistentVolumeClaim"]["metadata"]["name"]
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim
    server = file_objects(built_once, "prod/serve/chat/llama-70b-chat.yaml")
    assert "Job" not in server and "PersistentVolumeClaim" not in server
    server_volumes = server["InferenceService"]["spec"]["predictor"]["volumes"]
    assert {"name": "nim-cache", "persistentVolumeClaim": {"claimName": claim}} in server_volumes
