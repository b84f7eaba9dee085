"""Issue 7 decisions, read from the model of small environments: what each object will do on a cluster --
which pods get a proxy, what scrapes the metrics, how a workload wakes from zero, how it rolls out and starts,
which Pod Security level its namespace enforces, and how object stores get credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import errors_of, resolved, write_workload
from nimgen.model import Fixed, Jwt, Keda, KedaHttp, Knative, SecretKeyRef, ServiceTarget, TokenlessRule, Uri
from nimgen.usecases import compile_all

SPEC = {"model": {"nim": "meta/llama-3.1-8b-instruct", "version": "1.1.2"}, "profile": {"name": "vllm-fp16-tp1"},
        "store": {"pvc": {"claim": "c"}}, "compute": {"cpu": "4", "memory": "32Gi"}}
SCALE = {"minReplicas": 1, "maxReplicas": 3, "metric": "concurrency", "target": 4}
ZERO = {"minReplicas": 0, "maxReplicas": 2, "metric": "concurrency", "target": 4, "scaleToZero": {"afterSeconds": 120}}


def env_spec(root: Path, env: str, line: str) -> None:
    """Add one top-level key under the environment's spec (flow style)."""
    path = root / "environments" / env / "environment.yaml"
    path.write_text(path.read_text() + f"  {line}\n")


def resolved_env(root: Path, env: str):
    return compile_all(root, [env], render=False).resolved[env]


def namespace_labels(root: Path, env: str, project: str) -> dict[str, str]:
    (p,) = [p for p in resolved_env(root, env).projects if p.name == project]
    return dict(p.namespace_object.meta.labels)


# 1: access that needs a token gets a proxy that enforces it


def test_a_namespace_with_token_access_gets_sidecars_and_one_without_none(repo: Path):
    write_workload(repo, "staging", "open", SPEC, project="research")
    assert namespace_labels(repo, "staging", "chat")["istio-injection"] == "enabled"   # authenticated chat
    write_workload(repo, "staging", "mistral-7b-eval", {"access": {"type": "clusterLocal"}}, project="research")
    labels = namespace_labels(repo, "staging", "research")
    assert not {"istio-injection", "istio.io/rev", "istio.io/dataplane-mode"} & set(labels)
    assert all(w.peer is None for w in resolved(repo, "staging").values() if w.project == "research")


def test_a_mesh_revision_labels_the_namespace_for_that_revision(repo: Path):
    env_spec(repo, "staging", "mesh: {revision: 1-30}")
    labels = namespace_labels(repo, "staging", "chat")
    assert labels["istio.io/rev"] == "1-30" and "istio-injection" not in labels


def test_in_ambient_mode_a_waypoint_enforces_the_jwt_rules_of_the_predictor_service(repo: Path):
    env_spec(repo, "staging", "mesh: {mode: ambient}")
    labels = namespace_labels(repo, "staging", "chat")
    assert (labels["istio.io/dataplane-mode"], labels["istio.io/use-waypoint"], labels["istio.io/ingress-use-waypoint"]) == (
        "ambient", "waypoint", "true")
    (chat,) = [p for p in resolved_env(repo, "staging").projects if p.name == "chat"]
    assert chat.waypoint is not None and chat.waypoint.meta.name == "waypoint"
    access = resolved(repo, "staging")["llama-8b-chat"].access
    assert isinstance(access, Jwt) and isinstance(access.binding, ServiceTarget)
    assert access.binding.service == "llama-8b-chat-predictor"


def test_pods_that_must_finish_or_download_first_are_set_up_for_the_sidecar(repo: Path):
    w = resolved(repo, "prod")["llama-70b-chat"]
    assert ("sidecar.istio.io/inject", "false") in w.store.warmup.pod_labels      # a Job pod must complete
    write_workload(repo, "staging", "fetch", {**SPEC, "store": {"uri": "s3://b/m"}, "access": {"type": "authenticated"}})
    # the storage initializer runs before the server: the proxy must run before it (a native sidecar)
    assert dict(resolved(repo, "staging")["fetch"].service.pod_annotations) == {"sidecar.istio.io/nativeSidecar": "true"}


# 3, 4: metrics someone scrapes, which the mesh lets through


def test_every_workload_is_scraped_with_its_name_as_a_series_label(repo: Path):
    for w in resolved(repo, "prod").values():
        assert w.scrape.selector == w.ingress.selector and w.scrape.path == "/v1/metrics"
        assert w.scrape.series_labels == (("serving.kserve.io/inferenceservice", "inferenceservice"),)
        assert dict(w.scrape.meta.labels) == {"release": "kube-prometheus-stack"}   # what Prometheus selects


def test_a_query_on_a_label_only_a_service_monitor_sets_is_refused(repo: Path):
    path = repo / "environments/base/environment.yaml"
    path.write_text(path.read_text().replace('inferenceservice="{name}"})', 'service="{name}-predictor"})', 1))
    errors = errors_of(repo, "prod")
    assert any("spec.autoscaling.metrics.concurrency.query" in e and "label 'service'" in e for e in errors), errors


def test_meshed_workloads_accept_plain_text_on_the_scraped_port(repo: Path):
    w = resolved(repo, "prod")["llama-8b-chat"]
    assert w.peer is not None and w.peer.permissive_ports == (8000,) and w.peer.selector == w.ingress.selector
    assert w.access.tokenless[0] == TokenlessRule(paths=("/v1/metrics",), methods=("GET",),
                                                  not_from_namespaces=("istio-system",))


# 5: a latency is compared as a Value


def test_a_latency_target_on_keda_is_a_value_and_a_sum_is_an_average(repo: Path):
    prod = resolved(repo, "prod")
    assert isinstance(prod["llama-70b-chat"].scaling, Keda) and prod["llama-70b-chat"].scaling.metric_type == "Value"
    assert prod["llama-8b-chat"].scaling.metric_type == "AverageValue"


# 6: scale to zero wakes on a request


def test_scale_to_zero_without_a_waking_path_is_a_located_error_naming_the_field(repo: Path):
    write_workload(repo, "prod", "idle", {**SPEC, "scaling": ZERO}, project="research")
    (error,) = errors_of(repo, "prod")
    assert error.startswith("environments/prod/workloads/idle.yaml:") and "spec.scaling.minReplicas" in error
    assert "autoscaling.scaleFromZero" in error


def test_scale_from_zero_through_the_http_add_on(repo: Path):
    w = resolved(repo, "staging")["llama-8b-batch"]
    assert isinstance(w.scaling, KedaHttp) and w.scaling.min_replicas == 0
    assert w.scaling.wake.external_name == "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local"
    assert w.scaling.wake.meta.name == "llama-8b-batch-wake" and "llama-8b-batch-wake.research.svc.cluster.local" in w.scaling.hosts
    assert w.scaling.scaledown_period_seconds == 900
    assert dict(w.service.meta.annotations)["serving.kserve.io/autoscalerClass"] == "external"


@pytest.mark.parametrize("target, counted", [(2.5, 3), (0.4, 1), (4.0, 4)])
def test_request_counting_autoscalers_round_a_target_up_to_whole_requests(repo: Path, target: float, counted: int):
    """Knative's KPA and the HTTP add-on count whole requests: a fractional target rounds up, never to zero."""
    path = repo / "environments/prod/environment.yaml"
    path.write_text(path.read_text().replace("autoscaling: {backend: keda}", "autoscaling: {backend: keda, scaleFromZero: {via: knative}}"))
    write_workload(repo, "prod", "idle", {**SPEC, "scaling": {**ZERO, "target": target}}, project="research")
    idle = resolved(repo, "prod")["idle"]
    assert isinstance(idle.scaling, Knative) and idle.scaling.target == target
    assert (idle.scaling.scale_target, idle.service.scale_target) == (counted, counted)


def test_scale_from_zero_through_knative_makes_that_workload_a_knative_one(repo: Path):
    path = repo / "environments/prod/environment.yaml"
    path.write_text(path.read_text().replace("autoscaling: {backend: keda}", "autoscaling: {backend: keda, scaleFromZero: {via: knative}}"))
    write_workload(repo, "prod", "idle", {**SPEC, "scaling": ZERO}, project="research")
    w = resolved(repo, "prod")
    idle, busy = w["idle"], w["llama-8b-chat"]
    assert isinstance(idle.scaling, Knative) and idle.scaling.retention_seconds == 120
    annotations = dict(idle.service.meta.annotations)
    assert annotations["serving.kserve.io/deploymentMode"] == "Knative"
    assert annotations["autoscaling.knative.dev/scale-to-zero-pod-retention-period"] == "120s"
    assert dict(busy.service.meta.annotations)["serving.kserve.io/deploymentMode"] == "Standard"


# 7: Knative cannot see a latency


def test_knative_refuses_a_latency_target(repo: Path):
    write_workload(repo, "dev", "slow", {**SPEC, "scaling": {**SCALE, "metric": "latency", "target": 500}}, project="research")
    (error,) = errors_of(repo, "dev")
    assert "spec.scaling.metric" in error and "cannot scale on latency" in error


# 8: a warm-up that is a new Job when what it downloads changes


def test_the_warmup_job_is_named_after_what_it_downloads(repo: Path):
    before = resolved(repo, "prod")["llama-70b-chat"].store.warmup.meta
    path = repo / "environments/prod/workloads/llama-70b-chat.yaml"
    path.write_text(path.read_text().replace("profile: {auto: {optimizeFor: throughput}}", "profile: {auto: {optimizeFor: latency}}"))
    after = resolved(repo, "prod")["llama-70b-chat"].store.warmup.meta
    assert before.name != after.name and before.name.startswith("llama-70b-chat-warmup-")
    assert dict(after.annotations) == {"argocd.argoproj.io/sync-wave": "-1"}     # a Sync-phase Job, before wave 0


# 9, 10: rollouts that never surge a GPU replica, start-up windows within the progress deadline


def test_standard_rollouts_replace_pods_and_start_within_the_progress_deadline(repo: Path):
    w = resolved(repo, "prod")["llama-8b-chat"]
    assert (w.service.rollout.max_surge, w.service.rollout.max_unavailable) == (0, 1)
    startup = w.service.container.startup
    # KServe's progress deadline of 600s also covers scheduling and the image pull (an allowance of 180s)
    assert startup.period_seconds * startup.failure_threshold == 420


def test_knative_workloads_declare_a_progress_deadline_covering_a_cold_start(repo: Path):
    w = resolved(repo, "dev")["llama-8b-chat"]
    assert w.service.rollout is None
    startup = w.service.container.startup
    window = startup.period_seconds * startup.failure_threshold
    deadline = dict(w.service.meta.annotations)["serving.knative.dev/progress-deadline"]
    assert deadline == f"{window + 180}s" and window >= 1800     # the start, plus scheduling and the image pull


# 11: Pod Security levels the namespaces can enforce


@pytest.mark.parametrize(("mesh", "uri", "level"), [
    ("{mode: sidecar, cni: true}", False, "restricted"),
    ("{mode: sidecar, cni: true}", True, "baseline"),     # KServe's storage initializer sets no securityContext
    ("{mode: sidecar, podSecurity: privileged}", False, "privileged"),   # istio-init needs NET_ADMIN without CNI
    ("{mode: ambient}", False, "restricted")])
def test_namespaces_enforce_the_strictest_level_their_pods_pass(repo: Path, mesh: str, uri: bool, level: str):
    env_spec(repo, "staging", f"mesh: {mesh}")
    if uri:
        write_workload(repo, "staging", "fetch", {**SPEC, "store": {"uri": "s3://b/m"}})
    labels = namespace_labels(repo, "staging", "chat")
    assert labels["pod-security.kubernetes.io/enforce"] == level
    assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.33"


# 12: autoscalerClass none only where KServe knows it


def test_fixed_replicas_name_no_autoscaler_class_before_kserve_016(repo: Path):
    env_spec(repo, "staging", 'kserve: {version: "0.15"}')
    write_workload(repo, "staging", "steady", SPEC)
    w = resolved(repo, "staging")["steady"]
    assert isinstance(w.scaling, Fixed) and "serving.kserve.io/autoscalerClass" not in dict(w.service.meta.annotations)


# 13: object stores with credentials


def test_an_object_store_reads_credentials_from_its_service_account(repo: Path):
    write_workload(repo, "staging", "fetch", {**SPEC, "store": {"uri": {"url": "s3://b/m", "serviceAccount": "reader"}}})
    w = resolved(repo, "staging")["fetch"]
    assert w.store == Uri("s3://b/m", "reader", None) and w.service.service_account == "reader"


def test_a_hugging_face_token_is_a_secret_reference_for_the_initializer_and_the_server(repo: Path):
    write_workload(repo, "staging", "hf", {**SPEC, "store": {"uri": {"url": "hf://meta/llama", "tokenSecret": "hf-token"}}})
    w = resolved(repo, "staging")["hf"]
    assert dict(w.service.meta.annotations)["serving.kserve.io/storageSecretName"] == "hf-token"
    (token,) = [e for e in w.service.container.env if e.name == "HF_TOKEN"]
    assert token.value == SecretKeyRef("hf-token", "HF_TOKEN")


# what the cluster must run, per environment


def test_each_environment_lists_what_its_cluster_must_run(repo: Path):
    def needs(env: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for p in resolved_env(repo, env).prerequisites:
            found[p.feature] = found.get(p.feature, "") + p.needs + "\n"
        return found
    staging, prod, dev = needs("staging"), needs("prod"), needs("dev")
    assert "KEDA HTTP add-on" in staging["scale from zero"]
    assert "`llama-8b-batch-wake.research:8080`" in staging["scale from zero"]  # the address callers use
    assert "Prometheus adapter" in staging["autoscaling"] and "num_requests_running" in staging["autoscaling"]
    assert "Knative Serving in `knative-serving`" in dev["knative"] and "activator" in dev["scale from zero"]
    assert "PriorityClass `inference`" in prod["scheduling"] and "prepare/ before serve/" in prod["warm-up"]
    assert "revision `1-30` with its CNI agent" in prod["token access"]
    assert "`chat/ngc-api`" in prod["secrets"] and "`research/model-reader`" in staging["storage"]
    assert "release=kube-prometheus-stack" in prod["metrics"]
    assert "warm-up" not in staging and "scale from zero" not in prod


def test_the_out_readme_lists_the_prerequisites(built_once: Path):
    text = (built_once / "out/staging/README.md").read_text()
    assert "## What the cluster must run" in text and "| scale from zero | the KEDA HTTP add-on" in text
    # and how to reach a workload that wakes through the interceptor
    assert "call `llama-8b-batch-wake.research:8080`" in text


def test_a_mesh_download_before_native_sidecars_is_refused(repo: Path):
    path = repo / "environments/staging/environment.yaml"
    path.write_text(path.read_text() + '  kubernetesVersion: "1.28"\n')
    write_workload(repo, "staging", "fetch", {**SPEC, "store": {"uri": "s3://b/m"}, "access": {"type": "authenticated"}})
    errors = errors_of(repo, "staging")
    # the new workload, and the batch workload of research (meshed by its groups workload), both download so
    assert sorted(e.split(":")[0] for e in errors) == ["environments/base/workloads/llama-8b-batch.yaml",
                                                       "environments/staging/workloads/fetch.yaml"]
    assert all("spec.store.uri" in e and "Kubernetes 1.28 does not run by default" in e for e in errors)
