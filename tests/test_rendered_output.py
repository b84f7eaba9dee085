"""What lands in out/ passes the real schemas: kubernetes-validate strict, and the upstream CRDs from ../shared."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import PROJECT, UPSTREAM_SCHEMAS, snapshot
from generator.verify import verify_object

OUT = PROJECT / "out"


def committed_objects():
    for path in sorted(OUT.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        env = path.relative_to(OUT).parts[0]
        for doc in yaml.safe_load_all(path.read_text()):
            yield env, path.relative_to(OUT).as_posix(), doc


OBJECTS = list(committed_objects())
ENV_VERSIONS = {env: yaml.safe_load((PROJECT / "environments" / "base" / "environment.yaml").read_text())["spec"]["kubernetesVersion"]
                for env in ("dev", "staging", "prod")}


def test_out_is_not_empty():
    assert len(OBJECTS) > 30
    assert {o["kind"] for _, _, o in OBJECTS} >= {"Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy",
                                                 "InferenceService", "PersistentVolumeClaim", "HorizontalPodAutoscaler",
                                                 "ScaledObject", "Queue", "Job", "PodDisruptionBudget",
                                                 "RequestAuthentication", "AuthorizationPolicy"}


@pytest.mark.parametrize("env,file,obj", OBJECTS, ids=[f"{f}:{o['kind']}/{o['metadata']['name']}" for _, f, o in OBJECTS])
def test_object_passes_kubernetes_or_project_crd_schema(env, file, obj):
    assert verify_object(obj, ENV_VERSIONS[env]) == []


def upstream_validator(obj) -> Draft202012Validator | None:
    group, version = obj["apiVersion"].split("/")
    path = UPSTREAM_SCHEMAS / group / f"{obj['kind'].lower()}_{version}.json"
    return Draft202012Validator(json.loads(path.read_text())) if path.exists() else None


CRD_OBJECTS = [(f, o) for _, f, o in OBJECTS if "." in o["apiVersion"].split("/")[0] and not o["apiVersion"].split("/")[0].endswith("k8s.io")]


@pytest.mark.skipif(not UPSTREAM_SCHEMAS.is_dir(), reason="../shared/crds/jsonschema not present")
@pytest.mark.parametrize("file,obj", CRD_OBJECTS, ids=[f"{f}:{o['kind']}/{o['metadata']['name']}" for f, o in CRD_OBJECTS])
def test_crd_object_passes_the_upstream_schema(file, obj):
    validator = upstream_validator(obj)
    assert validator is not None, f"no upstream schema for {obj['apiVersion']} {obj['kind']}"
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
    assert errors == []


def test_no_ngc_key_material_in_out():
    """Keys are referenced from Secrets (secretKeyRef), never embedded: scan every byte of out/."""
    key_like = re.compile(rb"nvapi-|NGC_API_KEY\s*[:=]\s*['\"]?[A-Za-z0-9]{20,}")
    for rel, data in snapshot(OUT).items():
        assert not key_like.search(data), rel
    refs = [o for _, _, o in OBJECTS if o["kind"] == "InferenceService"
            for c in o["spec"]["predictor"]["containers"] for e in c["env"] if e["name"] == "NGC_API_KEY"]
    assert refs, "the examples should use the ngc store"
    for obj in (o for _, _, o in OBJECTS if o["kind"] in ("InferenceService", "Job")):
        spec = obj["spec"]["predictor"] if obj["kind"] == "InferenceService" else obj["spec"]["template"]["spec"]
        for container in spec["containers"]:
            for env in container["env"]:
                if env["name"] == "NGC_API_KEY":
                    assert "value" not in env and set(env["valueFrom"]) == {"secretKeyRef"}


def objects_of(rel: str) -> dict[str, dict]:
    return {o["kind"]: o for o in yaml.safe_load_all((OUT / rel).read_text())}


def test_inference_service_follows_the_nim_container_contract():
    isvc = objects_of("prod/chat/llama-70b-chat.yaml")["InferenceService"]
    predictor = isvc["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/v1/health/live", "port": 8000}
    assert container["readinessProbe"]["httpGet"]["path"] == "/v1/health/ready"
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 1200
    env = {e["name"]: e for e in container["env"]}
    assert env["NIM_MODEL_PROFILE"]["value"] == "4fbe63c3f6f9b928dac05fe81a278ac1ad45ccf329850f66bd6cbc0c2f2c044c"
    assert env["NIM_CACHE_PATH"]["value"] == "/opt/nim/.cache"
    assert container["resources"]["requests"] == container["resources"]["limits"] == {
        "cpu": "24", "memory": "192Gi", "nvidia.com/gpu": "2"}
    assert {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "32Gi"}} in predictor["volumes"]
    assert predictor["securityContext"]["runAsNonRoot"] is True and predictor["securityContext"]["fsGroup"] == 1000
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "external"


def test_pre_staged_store_is_read_only_and_has_no_ngc_key():
    predictor = objects_of("staging/research/mistral-7b-eval.yaml")["InferenceService"]["spec"]["predictor"]
    (container,) = predictor["containers"]
    assert "NGC_API_KEY" not in {e["name"] for e in container["env"]}
    assert {"name": "nim-cache", "mountPath": "/opt/nim/.cache", "readOnly": True,
            "subPath": "nim-cache/mistral-7b-instruct-v0.3"} in container["volumeMounts"]


def test_object_store_goes_through_kserve_storage_uris_and_mig_is_requested():
    predictor = objects_of("staging/research/llama-8b-batch.yaml")["InferenceService"]["spec"]["predictor"]
    assert predictor["storageUris"] == [{"uri": "s3://models/nim-cache/llama-3.1-8b-instruct-1.1.2", "mountPath": "/mnt/models"}]
    assert predictor["containers"][0]["resources"]["limits"]["nvidia.com/mig-3g.40gb"] == "1"


def test_scale_to_zero_uses_keda_with_the_idle_period():
    scaled = objects_of("staging/chat/llama-8b-chat.yaml")["ScaledObject"]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"], scaled["cooldownPeriod"]) == (0, 2, 600)
    assert scaled["scaleTargetRef"]["name"] == "llama-8b-chat-predictor"
    assert 'namespace="chat",service="llama-8b-chat-predictor"' in scaled["triggers"][0]["metadata"]["query"]


def test_hpa_targets_the_predictor_deployment_on_the_pods_metric():
    hpa = objects_of("dev/research/mistral-7b-eval.yaml")["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mistral-7b-eval-predictor"}
    assert hpa["metrics"][0]["pods"]["metric"]["name"] == "num_requests_running"
    assert hpa["metrics"][0]["pods"]["target"] == {"type": "AverageValue", "averageValue": "4"}


def test_warmup_job_downloads_the_pinned_profile_into_the_cache():
    job = objects_of("prod/chat/llama-70b-chat.yaml")["Job"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["download-to-cache", "--profile",
                                    "4fbe63c3f6f9b928dac05fe81a278ac1ad45ccf329850f66bd6cbc0c2f2c044c"]
    assert job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "llama-70b-chat-nim-cache"
