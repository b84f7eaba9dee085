"""Names a cluster accepts and namespaces a project may own: long workload names get generated names that fit
(or a located error where KServe derives the name), and a project can never claim a system, gateway,
monitoring or other reserved namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import run, snapshot, write_workload

SPEC = {"model": {"nim": "meta/llama-3.1-70b-instruct", "version": "1.14.0"}, "profile": {"auto": {"optimizeFor": "throughput"}},
        "access": {"type": "authenticated"}, "compute": {"cpu": "24", "memory": "192Gi", "sharedMemory": "32Gi"},
        "store": {"ngc": {"secret": "ngc-api", "cache": {"dataSource": "nim-cache-large", "warmup": True}}},
        "scaling": {"minReplicas": 1, "maxReplicas": 2, "metric": "concurrency", "target": 8},
        "scheduling": {"nodePools": ["h100-reserved"]}}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def failed(root: Path, before: dict) -> str:
    result = run(root, "build")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert snapshot(root / "out") == before
    return result.stderr


def test_the_longest_standard_workload_name_builds_with_every_generated_name_a_dns_label(built: Path):
    name = "w" * 53                               # '<name>-predictor' is exactly 63
    write_workload(built, "prod", name, SPEC, project="chat")
    result = run(built, "build", "--env", "prod")
    assert result.exit_code == 0, result.stderr
    objects = [o for part in ("prepare", "serve")
               for o in yaml.safe_load_all((built / f"out/prod/{part}/chat/{name}.yaml").read_text())]
    names = {o["kind"]: o["metadata"]["name"] for o in objects}
    assert all(DNS_LABEL.match(n) for n in names.values()), names
    # shortened names keep the workload's start, a hash of the full name, and the suffix
    assert re.match(r"^w{38}-[0-9a-f]{8}-plaintext-ports$", names["PeerAuthentication"])
    assert re.match(r"^w+-[0-9a-f]{8}-warmup-[0-9a-f]{8}$", names["Job"]) and len(names["Job"]) == 63
    assert names["InferenceService"] == name


def test_a_workload_name_kserve_cannot_derive_names_from_is_refused_at_the_name(built: Path):
    before = snapshot(built / "out")
    path = write_workload(built, "prod", "w" * 54, SPEC, project="chat")
    stderr = failed(built, before)
    assert f"{path.relative_to(built)}:4:9: metadata.name:" in stderr
    assert "'<name>-predictor'" in stderr and "63" in stderr


def test_knative_workloads_leave_room_for_the_revision_service(built: Path):
    before = snapshot(built / "out")
    spec = {**SPEC, "access": {"type": "clusterLocal"}, "store": {"pvc": {"claim": "c"}}, "scheduling": {"nodePools": ["l40s"]},
            "model": {"nim": "meta/llama-3.1-8b-instruct", "version": "1.1.2"}, "profile": {"name": "vllm-fp16-tp1"},
            "compute": {"cpu": "4", "memory": "32Gi"}}
    write_workload(built, "dev", "k" * 40, spec, project="research")
    stderr = failed(built, before)
    assert "'<name>-predictor-00001-private'" in stderr and "at most 39" in stderr


@pytest.mark.parametrize(("namespace", "owner"), [
    ("istio-system", "the ingress gateway"), ("monitoring", "the monitoring stack"), ("kube-system", "Kubernetes"),
    ("knative-serving", "Knative")])
def test_a_project_cannot_claim_a_reserved_namespace(built: Path, namespace: str, owner: str):
    before = snapshot(built / "out")
    path = built / "environments/prod/projects/intruder.yaml"
    path.write_text("apiVersion: nimgen.dev/v1alpha1\nkind: Project\nmetadata: {name: intruder}\n"
                    f"spec:\n  namespace: {namespace}\n  quota: {{gpus: 1}}\n")
    stderr = failed(built, before)
    assert f"environments/prod/projects/intruder.yaml:5:14: spec.namespace: namespace '{namespace}' belongs to {owner}" in stderr


def test_a_project_named_like_a_reserved_namespace_is_refused_at_its_name(built: Path):
    before = snapshot(built / "out")
    (built / "environments/prod/projects/monitoring.yaml").write_text(
        "apiVersion: nimgen.dev/v1alpha1\nkind: Project\nmetadata: {name: monitoring}\nspec:\n  quota: {gpus: 1}\n")
    assert "environments/prod/projects/monitoring.yaml:3:18: metadata.name: namespace 'monitoring' belongs to" in failed(built, before)


def test_the_monitoring_namespace_cannot_be_the_gateway(built: Path):
    before = snapshot(built / "out")
    path = built / "environments/staging/environment.yaml"
    path.write_text(path.read_text() + "  monitoring: {namespace: istio-system}\n")
    stderr = failed(built, before)
    assert "environments/staging/environment.yaml:" in stderr and "spec.ingress.gatewayNamespace" in stderr \
        or "spec.monitoring.namespace" in stderr
    assert "is also the" in stderr


def test_an_hpa_target_finer_than_milli_units_is_refused_not_rounded_to_zero(repo: Path):
    from conftest import errors_of, resolved
    spec = {**SPEC, "store": {"pvc": {"claim": "c"}}, "access": {"type": "clusterLocal"}, "scheduling": {"nodePools": ["l40s"]},
            "model": {"nim": "meta/llama-3.1-8b-instruct", "version": "1.1.2"}, "profile": {"name": "vllm-fp16-tp1"},
            "compute": {"cpu": "4", "memory": "32Gi"}}
    write_workload(repo, "staging", "fine", {**spec, "scaling": {"minReplicas": 1, "maxReplicas": 2, "metric": "concurrency", "target": 0.0001}})
    (error,) = errors_of(repo, "staging")
    assert "spec.scaling.target" in error and "milli-unit precision" in error
    write_workload(repo, "staging", "fine", {**spec, "scaling": {"minReplicas": 1, "maxReplicas": 2, "metric": "concurrency", "target": 0.125}})
    assert resolved(repo, "staging")["fine"].scaling.average_value == "125m"
