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
