"""What a workload's scaling means for the controller that reads it, read from the objects a build wrote:
the HPA (autoscaling/v2) averages a per-pod metric over the pods of the Deployment its scaleTargetRef names; KEDA's
ScaledObject compares a Prometheus query with its threshold; the KEDA HTTP add-on's interceptor counts the requests
sent to the Hosts of its HTTPScaledObject, which callers reach through an ExternalName Service on the
interceptor's port; Knative's KPA reads scaleMetric and scaleTarget from the InferenceService and counts whole
requests; KServe reads serving.kserve.io/autoscalerClass ("external": another autoscaler owns the replicas,
"none": they stay fixed, from KServe 0.16); a PodDisruptionBudget lets node drains take one predictor pod at a time
where two or more are always up. And the predictor pod itself: the probes the kubelet runs against the NIM, its
/dev/shm, its rollout strategy, service account, node pools and tolerations.

One repository, built once: environments `hpa` (Standard, HPA, scale from zero through the KEDA HTTP add-on),
`keda` (Standard, KEDA, scale from zero through Knative), `kn` (Knative mode) and `old` (KServe 0.15). The
refused inputs live in environments `refused` (HPA and the KEDA HTTP add-on), `refused-kn` (Knative),
`refused-nowake` (no scaleFromZero, no latency metric) and `refused-keda` (a latency metric without a query), only
resolved. The base environment here measures concurrency and throughput only: an environment that scales on latency
says how."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import run
from meaning import ONE_GPU, Objects, add_environment, add_project, add_workload, bare_repo, out_objects, replicas
from nimgen.diagnostics import BuildFailed, Diagnostic
from nimgen.usecases import compile_all

PROJECT = "team"
ISVC_LABEL = "serving.kserve.io/inferenceservice"      # KServe's label on every predictor pod
WORKLOAD_LABEL = "app.kubernetes.io/name"              # on every object of a workload
AUTOSCALER_CLASS = "serving.kserve.io/autoscalerClass"
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
RETENTION = "autoscaling.knative.dev/scale-to-zero-pod-retention-period"
PROGRESS_DEADLINE = "serving.knative.dev/progress-deadline"
NIM_PORT, LIVE, READY = 8000, "/v1/health/live", "/v1/health/ready"      # what the NIM serves
# The KEDA HTTP add-on's interceptor proxy (http-add-on config/interceptor/proxy-service.yaml), in namespace keda.
INTERCEPTOR = "keda-add-ons-http-interceptor-proxy.keda.svc.cluster.local"
INTERCEPTOR_PORT = 8080
PREDICTOR_SERVICE_PORT = 80          # KServe's predictor Service (service_reconciler.go)
PULL_ALLOWANCE = 180
STANDARD_PROGRESS_DEADLINE = 600     # Kubernetes' default progressDeadlineSeconds, which KServe keeps
PROMETHEUS = "http://prometheus.monitoring.svc:9090"    # the fixture's base environment
CONCURRENCY_PODS_METRIC = "num_requests_running"        # the fixture's base environment
LATENCY_QUERY = ('histogram_quantile(0.9, sum(rate(time_to_first_token_seconds_bucket{namespace="{namespace}",'
                 'inferenceservice="{name}"}[2m])) by (le)) * 1000')
TTFT_PODS_METRIC = "time_to_first_token_ms"

ZERO = {"scaleToZero": {"afterSeconds": 300}}
LOCAL = {"type": "clusterLocal"}


def autoscaled(low: int, high: int, metric: str, target: float, **extra: Any) -> dict[str, Any]:
    return {"minReplicas": low, "maxReplicas": high, "metric": metric, "target": target, **extra}


# the fixture's base pool, and a second pool of the same GPUs
L40S = {"name": "l40s", "gpu": {"product": "NVIDIA-L40S", "perNode": 4, "memory": "48Gi", "device": "26b9:10de"},
        "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]}
POOL_LABEL = "nimgen.dev/node-pool"                    # the fixture's base environment

ENVIRONMENTS = {
    "hpa": {"kserve": {"deploymentMode": "Standard"},
            "autoscaling": {"backend": "hpa", "scaleFromZero": {"via": "keda-http"}},
            "nodePools": [L40S, {**L40S, "name": "l40s-spot"}]},
    "keda": {"kserve": {"deploymentMode": "Standard"},
             "autoscaling": {"backend": "keda", "scaleFromZero": {"via": "knative"},
                             "metrics": {"latency": {"query": LATENCY_QUERY}}}},
    "kn": {"kserve": {"deploymentMode": "Knative"},
           "autoscaling": {"backend": "knative", "scaleFromZero": {"via": "knative"}}},
    "old": {"kserve": {"version": "0.15", "deploymentMode": "Standard"}, "autoscaling": {"backend": "hpa"}},
}
SPOT = {"key": "spot", "operator": "Equal", "value": "true", "effect": "NoExecute", "tolerationSeconds": 30}
# environment -> workload -> spec beyond ONE_GPU
WORKLOADS: dict[str, dict[str, dict[str, Any]]] = {
    "hpa": {
        "one": {"scaling": replicas(1)},
        "two": {"scaling": replicas(2)},
        "hpa": {"scaling": autoscaled(1, 4, "concurrency", 4)},
        "hpa-half": {"scaling": autoscaled(1, 3, "concurrency", 0.5)},
        "hpa-two": {"scaling": autoscaled(2, 4, "concurrency", 8)},
        "idle": {"scaling": autoscaled(0, 2, "concurrency", 2.5, **ZERO), "access": LOCAL},
        "idle-rate": {"scaling": autoscaled(0, 3, "throughput", 0.2, scaleToZero={"afterSeconds": 0}), "access": LOCAL},
        "default": {},                                          # no spec.scaling: one replica
        "fetched": {"store": {"uri": {"url": "s3://models/llama-3.1-8b", "serviceAccount": "s3-reader"}},
                    "scaling": replicas(1)},
        "spread": {"scaling": replicas(1), "scheduling": {"nodePools": ["l40s-spot", "l40s"], "tolerations": [SPOT]}},
    },
    "keda": {
        "keda": {"scaling": autoscaled(1, 3, "concurrency", 4)},
        "keda-latency": {"scaling": autoscaled(1, 3, "latency", 500)},
        "wakes": {"scaling": autoscaled(0, 2, "concurrency", 1.5, scaleToZero={"afterSeconds": 60})},
        "keda-precise": {"scaling": autoscaled(1, 2, "latency", 2500.125)},
    },
    "kn": {
        "kn": {"scaling": autoscaled(1, 4, "concurrency", 2.5)},
        "kn-zero": {"scaling": autoscaled(0, 2, "throughput", 7.2, scaleToZero={"afterSeconds": 120})},
        "kn-fixed": {"scaling": replicas(2)},
    },
    "old": {
        "old-one": {"scaling": replicas(1)},
    },
}
REFUSED_ENVIRONMENTS = {
    "refused": {"kserve": {"deploymentMode": "Standard"},
                "autoscaling": {"backend": "hpa", "scaleFromZero": {"via": "keda-http"},
                                # a latency the HPA can read per pod: still no average across pods
                                "metrics": {"latency": {"podsMetric": TTFT_PODS_METRIC, "query": LATENCY_QUERY}}},
                "policy": {"allowPublicEndpoints": True}},
    "refused-kn": {"kserve": {"deploymentMode": "Knative"}, "autoscaling": {"backend": "knative"}},
    "refused-nowake": {"kserve": {"deploymentMode": "Standard"}, "autoscaling": {"backend": "hpa"}},
    "refused-keda": {"kserve": {"deploymentMode": "Standard"},
                     "autoscaling": {"backend": "keda", "metrics": {"latency": {"podsMetric": TTFT_PODS_METRIC}}}},
}
REFUSED: dict[str, dict[str, dict[str, Any]]] = {
    "refused": {
        "http-latency": {"scaling": autoscaled(0, 2, "latency", 500, **ZERO), "access": LOCAL},
        "http-public": {"scaling": autoscaled(0, 2, "concurrency", 4, **ZERO), "access": {"type": "public"}},
        "hpa-fine": {"scaling": autoscaled(1, 2, "concurrency", 0.0005)},
        # maxReplicas first: the hint must find minReplicas itself, not the start of spec.scaling
        "max-below-min": {"scaling": {"maxReplicas": 2, "minReplicas": 3}},
        "zero-no-after": {"scaling": autoscaled(0, 2, "concurrency", 4), "access": LOCAL},
        "after-not-zero": {"scaling": autoscaled(1, 2, "concurrency", 4, **ZERO)},
        "no-metric": {"scaling": {"minReplicas": 1, "maxReplicas": 3}},
        "no-target": {"scaling": {"minReplicas": 1, "maxReplicas": 3, "metric": "concurrency"}},
        "hpa-latency": {"scaling": autoscaled(1, 3, "latency", 500)},
        "hpa-throughput": {"scaling": autoscaled(1, 3, "throughput", 5)},      # a query, no podsMetric
    },
    "refused-nowake": {
        "zero-nowake": {"scaling": autoscaled(0, 2, "concurrency", 4, **ZERO), "access": LOCAL},
        "unmeasured": {"scaling": autoscaled(1, 3, "latency", 500)},
    },
    "refused-keda": {
        "keda-no-query": {"scaling": autoscaled(1, 3, "latency", 500)},
    },
    "refused-kn": {
        "kn-latency": {"scaling": autoscaled(1, 3, "latency", 500)},
    },
}


@pytest.fixture(scope="module")
def scaling_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("scaling") / "repo")
    base = root / "environments" / "base" / "environment.yaml"
    doc = yaml.safe_load(base.read_text())
    del doc["spec"]["autoscaling"]["metrics"]["latency"]
    base.write_text(yaml.safe_dump(doc, sort_keys=False))
    for environments, workloads in ((ENVIRONMENTS, WORKLOADS), (REFUSED_ENVIRONMENTS, REFUSED)):
        for env, spec in environments.items():
            add_environment(root, env, spec)
            add_project(root, env, PROJECT, {"gpus": 32})
            for name, workload in workloads[env].items():
                add_workload(root, env, PROJECT, name, {**ONE_GPU, **workload})
    return root


@pytest.fixture(scope="module")
def out(scaling_repo: Path) -> dict[str, Objects]:
    result = run(scaling_repo, "build", *(f"--env={env}" for env in ENVIRONMENTS))
    assert result.exit_code == 0, result.stderr
    return {env: Objects(out_objects(scaling_repo, env)) for env in ENVIRONMENTS}


ALL = [(env, name) for env in WORKLOADS for name in WORKLOADS[env]]
KNATIVE_MODE = {("kn", "kn"), ("kn", "kn-zero"), ("kn", "kn-fixed"), ("keda", "wakes")}


def isvc(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    return out[env].get("InferenceService", name, PROJECT)


def predictor(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    return isvc(out, env, name)["spec"]["predictor"]


def annotations(out: dict[str, Objects], env: str, name: str) -> dict[str, str]:
    return isvc(out, env, name)["metadata"].get("annotations", {})


def server(out: dict[str, Objects], env: str, name: str) -> dict[str, Any]:
    (container,) = predictor(out, env, name)["containers"]
    return container


def spec_of(env: str, name: str) -> dict[str, Any]:
    return WORKLOADS[env][name]["scaling"]


def seconds(duration: str) -> float:
    """A Go duration of whole seconds or milliseconds ('300s', '500ms'), as the controllers parse it."""
    match = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    assert match, f"not a duration: {duration!r}"
    return int(match[1]) * {"ms": 0.001, "s": 1, "m": 60}[match[2]]


def quantity(text: str) -> float:
    """A Kubernetes quantity as the HPA compares it: '8' is 8, '500m' is 0.5."""
    match = re.fullmatch(r"(\d+)(m?)", text)
    assert match, f"not a quantity: {text!r}"
    return int(match[1]) / (1000 if match[2] else 1)


def startup_window(probe: dict[str, Any]) -> int:
    """How long the kubelet lets the start-up probe fail before it restarts the container."""
    return probe["periodSeconds"] * probe["failureThreshold"]


def autoscalers(objects: Objects, name: str) -> list[dict[str, Any]]:
    return [o for kind in ("HorizontalPodAutoscaler", "ScaledObject", "HTTPScaledObject")
            for o in objects.of(kind, PROJECT) if o["metadata"]["name"] == name]


PREDICTOR_DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment"}


# -- the HPA: a per-pod metric averaged over the predictor Deployment's pods


@pytest.mark.parametrize("name", ["hpa", "hpa-half", "hpa-two"])
def test_the_hpa_averages_the_pods_metric_over_the_predictor_deployment(out, name):
    hpa = out["hpa"].get("HorizontalPodAutoscaler", name, PROJECT)
    scaling = spec_of("hpa", name)
    assert hpa["apiVersion"] == "autoscaling/v2"
    spec = hpa["spec"]
    # KServe names the Deployment <isvc>-predictor: a scaleTargetRef to anything else scales nothing
    assert spec["scaleTargetRef"] == {**PREDICTOR_DEPLOYMENT, "name": f"{name}-predictor"}
    assert (spec["minReplicas"], spec["maxReplicas"]) == (scaling["minReplicas"], scaling["maxReplicas"])
    (metric,) = spec["metrics"]
    # autoscaling/v2 reads the source named by `type` (Pods -> pods), spelled exactly so
    assert metric["type"] == "Pods" and set(metric) == {"type", "pods"}
    assert metric["pods"]["metric"] == {"name": CONCURRENCY_PODS_METRIC}
    target = metric["pods"]["target"]
    assert target["type"] == "AverageValue" and set(target) == {"type", "averageValue"}
    assert quantity(target["averageValue"]) == scaling["target"]


def test_a_fractional_hpa_target_is_kept_exactly_in_milli_units(out):
    target = out["hpa"].get("HorizontalPodAutoscaler", "hpa-half", PROJECT)["spec"]["metrics"][0]["pods"]["target"]
    assert target["averageValue"] == "500m"          # 0.5 requests per pod; "0" would scale on every request


def test_the_hpa_scales_down_slower_than_a_replica_starts(out):
    for hpa in out["hpa"].of("HorizontalPodAutoscaler"):
        window = hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"]
        assert window >= startup_window(server(out, "hpa", hpa["metadata"]["name"])["startupProbe"])


# -- KEDA: a Prometheus query against a threshold, on the predictor Deployment


@pytest.mark.parametrize(("name", "metric_type"),
                         [("keda", "AverageValue"), ("keda-latency", "Value")])
def test_the_scaled_object_compares_the_workloads_query_with_its_target(out, name, metric_type):
    scaled = out["keda"].get("ScaledObject", name, PROJECT)
    scaling = spec_of("keda", name)
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == {**PREDICTOR_DEPLOYMENT, "name": f"{name}-predictor"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (scaling["minReplicas"], scaling["maxReplicas"])
    assert isinstance(spec["pollingInterval"], int) and spec["pollingInterval"] > 0
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "prometheus"
    # a sum over replicas is divided by the replica count (AverageValue); a latency is a level (Value)
    assert trigger["metricType"] == metric_type
    meta = trigger["metadata"]
    assert meta["serverAddress"] == PROMETHEUS
    assert float(meta["threshold"]) == scaling["target"]        # KEDA parses the threshold as a float
    assert f'namespace="{PROJECT}"' in meta["query"] and f'inferenceservice="{name}"' in meta["query"]
    assert "{" + "namespace}" not in meta["query"] and "{" + "name}" not in meta["query"]


def test_a_keda_threshold_keeps_every_digit_of_the_target(out):
    # six significant digits ("{:g}") turned 2500.125 into 2500.12 and 1234567 into 1.23457e+06
    (trigger,) = out["keda"].get("ScaledObject", "keda-precise", PROJECT)["spec"]["triggers"]
    assert float(trigger["metadata"]["threshold"]) == spec_of("keda", "keda-precise")["target"]


# -- the KEDA HTTP add-on: the interceptor holds the first request and counts whole requests


HTTP_METRIC = {"concurrency": "concurrency", "throughput": "requestRate"}     # the add-on's scalingMetric keys


@pytest.mark.parametrize("name", ["idle", "idle-rate"])
def test_the_http_scaled_object_scales_the_predictor_from_zero_on_whole_requests(out, name):
    scaled = out["hpa"].get("HTTPScaledObject", name, PROJECT)
    scaling = spec_of("hpa", name)
    assert scaled["apiVersion"] == "http.keda.sh/v1alpha1"
    spec = scaled["spec"]
    # the interceptor forwards to the predictor Service on the port KServe gives it
    assert spec["scaleTargetRef"] == {**PREDICTOR_DEPLOYMENT, "name": f"{name}-predictor",
                                      "service": f"{name}-predictor", "port": PREDICTOR_SERVICE_PORT}
    assert spec["replicas"] == {"min": 0, "max": scaling["maxReplicas"]}
    assert spec["scaledownPeriod"] == scaling["scaleToZero"]["afterSeconds"]
    # exactly one of concurrency | requestRate, a whole number of requests, at least one
    whole = max(1, math.ceil(scaling["target"]))
    assert spec["scalingMetric"] == {HTTP_METRIC[scaling["metric"]]: {"targetValue": whole}}


def test_http_targets_round_up_to_whole_requests(out):
    metric = {name: out["hpa"].get("HTTPScaledObject", name, PROJECT)["spec"]["scalingMetric"]
              for name in ("idle", "idle-rate")}
    assert metric == {"idle": {"concurrency": {"targetValue": 3}},          # 2.5 concurrent requests
                      "idle-rate": {"requestRate": {"targetValue": 1}}}     # 0.2 per second: at least one


@pytest.mark.parametrize("name", ["idle", "idle-rate"])
def test_the_interceptor_holds_the_first_request_while_a_replica_starts(out, name):
    timeouts = out["hpa"].get("HTTPScaledObject", name, PROJECT)["spec"]["timeouts"]
    assert set(timeouts) == {"conditionWait", "responseHeader"}
    assert seconds(timeouts["conditionWait"]) >= startup_window(server(out, "hpa", name)["startupProbe"])
    # the add-on's default is 500ms; a non-streamed completion takes far longer
    assert seconds(timeouts["responseHeader"]) >= 60


@pytest.mark.parametrize("name", ["idle", "idle-rate"])
def test_the_wake_service_reaches_the_interceptor_under_a_host_it_routes(out, name):
    spec = out["hpa"].get("HTTPScaledObject", name, PROJECT)["spec"]
    (wake,) = [s for s in out["hpa"].of("Service", PROJECT) if s["metadata"]["labels"][WORKLOAD_LABEL] == name]
    assert (wake["apiVersion"], wake["kind"]) == ("v1", "Service")
    assert wake["spec"]["type"] == "ExternalName" and wake["spec"]["externalName"] == INTERCEPTOR
    # an ExternalName Service maps no port: callers must use the interceptor proxy's own port
    assert wake["spec"]["ports"] == [{"name": "http", "port": INTERCEPTOR_PORT, "protocol": "TCP"}]
    # the interceptor routes on the Host header: every name of the wake Service a caller may use is one of its hosts
    w = wake["metadata"]["name"]
    assert {w, f"{w}.{PROJECT}", f"{w}.{PROJECT}.svc", f"{w}.{PROJECT}.svc.cluster.local"} <= set(spec["hosts"])
    # and none of them names the predictor itself (a request there would bypass the interceptor)
    assert not any(h.startswith(f"{name}-predictor") for h in spec["hosts"])


def test_a_workload_asleep_at_zero_is_left_to_the_add_on(out):
    for name in ("idle", "idle-rate"):
        assert predictor(out, "hpa", name)["minReplicas"] == 0
        assert annotations(out, "hpa", name)[AUTOSCALER_CLASS] == "external"
        assert [o["kind"] for o in autoscalers(out["hpa"], name)] == ["HTTPScaledObject"]


# -- Knative: the KPA reads the metric and a whole-request target from the InferenceService


@pytest.mark.parametrize(("env", "name", "metric", "target"), [
    ("kn", "kn", "concurrency", 3),            # 2.5 concurrent requests, rounded up
    ("kn", "kn-zero", "rps", 8),               # throughput 7.2 per second
    ("keda", "wakes", "concurrency", 2),       # a Standard environment's workload waking from zero via Knative
])
def test_knatives_autoscaler_reads_the_scale_metric_and_a_whole_target(out, env, name, metric, target):
    scaling = spec_of(env, name)
    pod = predictor(out, env, name)
    assert annotations(out, env, name)[DEPLOYMENT_MODE] == "Knative"
    assert (pod["scaleMetric"], pod["scaleTarget"]) == (metric, target)
    assert (pod["minReplicas"], pod["maxReplicas"]) == (scaling["minReplicas"], scaling["maxReplicas"])
    assert AUTOSCALER_CLASS not in annotations(out, env, name)      # the KPA, not an external autoscaler
    assert autoscalers(out[env], name) == []


@pytest.mark.parametrize(("env", "name"), [("kn", "kn-zero"), ("keda", "wakes")])
def test_a_knative_workload_at_zero_keeps_its_last_pod_for_its_after_seconds(out, env, name):
    after = spec_of(env, name)["scaleToZero"]["afterSeconds"]
    assert seconds(annotations(out, env, name)[RETENTION]) == after


@pytest.mark.parametrize("name", ["kn", "kn-fixed"])
def test_a_knative_workload_that_never_scales_to_zero_sets_no_retention(out, name):
    assert RETENTION not in annotations(out, "kn", name)


def test_fixed_replicas_in_knative_mode_carry_no_metric(out):
    pod = predictor(out, "kn", "kn-fixed")
    assert (pod["minReplicas"], pod["maxReplicas"]) == (2, 2)
    assert "scaleMetric" not in pod and "scaleTarget" not in pod
    assert AUTOSCALER_CLASS not in annotations(out, "kn", "kn-fixed")


@pytest.mark.parametrize(("env", "name"), sorted(KNATIVE_MODE))
def test_knative_waits_for_a_revisions_first_pod_as_long_as_its_start_up_probe(out, env, name):
    deadline = seconds(annotations(out, env, name)[PROGRESS_DEADLINE])
    assert startup_window(server(out, env, name)["startupProbe"]) <= deadline


# -- KServe's autoscalerClass: external where nimgen renders the autoscaler, none where the replicas are fixed


@pytest.mark.parametrize(("env", "name"), ALL)
def test_the_autoscaler_class_says_who_owns_the_replicas(out, env, name):
    found = annotations(out, env, name).get(AUTOSCALER_CLASS)
    owners = autoscalers(out[env], name)
    pod = predictor(out, env, name)
    if (env, name) in KNATIVE_MODE:
        assert found is None
    elif owners:
        assert found == "external" and len(owners) == 1
    else:
        assert pod["minReplicas"] == pod["maxReplicas"]
        # "none" fixes the replicas from KServe 0.16; 0.15 does not know it (its default class with min = max)
        assert found == (None if env == "old" else "none")


def test_every_autoscaled_standard_workload_has_exactly_one_autoscaler(out):
    for env, name in ALL:
        pod = predictor(out, env, name)
        if (env, name) not in KNATIVE_MODE and pod["minReplicas"] != pod["maxReplicas"]:
            assert len(autoscalers(out[env], name)) == 1, (env, name)


def test_without_scaling_a_workload_runs_one_replica(out):
    pod = predictor(out, "hpa", "default")
    assert (pod["minReplicas"], pod["maxReplicas"]) == (1, 1) and autoscalers(out["hpa"], "default") == []


def test_the_deployment_mode_is_spelled_for_the_kserve_release(out):
    assert annotations(out, "old", "old-one")[DEPLOYMENT_MODE] == "RawDeployment"      # 0.15
    assert annotations(out, "hpa", "one")[DEPLOYMENT_MODE] == "Standard"


# -- the PodDisruptionBudget: one pod at a time, where two or more are always up


@pytest.mark.parametrize(("env", "name"), ALL)
def test_a_disruption_budget_exactly_when_two_or_more_replicas_are_always_up(out, env, name):
    budget = out[env].find("PodDisruptionBudget", name, PROJECT)
    if predictor(out, env, name)["minReplicas"] < 2:
        assert budget is None
        return
    assert budget is not None
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"] == {"matchLabels": {ISVC_LABEL: name}}     # the predictor's pods


def test_the_disruption_budget_boundary_is_two(out):
    assert out["hpa"].find("PodDisruptionBudget", "one", PROJECT) is None
    assert out["hpa"].find("PodDisruptionBudget", "two", PROJECT) is not None
    assert out["hpa"].find("PodDisruptionBudget", "hpa", PROJECT) is None          # 1 to 4
    assert out["hpa"].find("PodDisruptionBudget", "hpa-two", PROJECT) is not None  # 2 to 4


# -- the predictor pod


@pytest.mark.parametrize(("env", "name"), ALL)
def test_the_kubelet_probes_the_nims_health_endpoints_on_its_port(out, env, name):
    container = server(out, env, name)
    assert [p["containerPort"] for p in container["ports"]] == [NIM_PORT]
    for key, path in (("livenessProbe", LIVE), ("readinessProbe", READY), ("startupProbe", READY)):
        assert container[key]["httpGet"] == {"path": path, "port": NIM_PORT}, key


@pytest.mark.parametrize(("env", "name"), ALL)
def test_the_start_up_window_fits_the_deadline_of_the_mode(out, env, name):
    window = startup_window(server(out, env, name)["startupProbe"])
    if (env, name) in KNATIVE_MODE:
        assert window <= seconds(annotations(out, env, name)[PROGRESS_DEADLINE])
    else:
        # Standard mode: a Deployment past its progressDeadlineSeconds shows Degraded while still starting, and
        # the deadline also covers scheduling and the image pull (an allowance of 180 s)
        assert window + PULL_ALLOWANCE == STANDARD_PROGRESS_DEADLINE


@pytest.mark.parametrize(("env", "name"), ALL)
def test_shared_memory_is_a_memory_volume_at_dev_shm(out, env, name):
    pod = predictor(out, env, name)
    (mount,) = [m for m in server(out, env, name)["volumeMounts"] if m["mountPath"] == "/dev/shm"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["emptyDir"]["medium"] == "Memory"


@pytest.mark.parametrize(("env", "name"), ALL)
def test_a_rollout_replaces_one_pod_at_a_time_in_standard_mode_only(out, env, name):
    strategy = predictor(out, env, name).get("deploymentStrategy")
    if (env, name) in KNATIVE_MODE:
        assert strategy is None                 # Knative rolls out revisions; KServe copies this only in Standard mode
    else:
        # no surge: an extra GPU replica would stall on a full quota
        assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}


@pytest.mark.parametrize(("env", "name"), ALL)
def test_a_gpu_pod_schedules_only_onto_its_node_pools(out, env, name):
    pools = WORKLOADS[env][name].get("scheduling", ONE_GPU["scheduling"])["nodePools"]
    (term,) = predictor(out, env, name)["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]
    (pool,) = [e for e in term["matchExpressions"] if e["key"] == POOL_LABEL]
    assert pool["operator"] == "In" and sorted(pool["values"]) == sorted(pools)


def node_affinity(out: dict[str, Objects], name: str) -> dict[str, Any]:
    return predictor(out, "hpa", name)["affinity"]["nodeAffinity"]


def test_the_scheduler_tries_a_workloads_node_pools_in_the_order_it_lists_them(out):
    preferred = node_affinity(out, "spread")["preferredDuringSchedulingIgnoredDuringExecution"]
    ranked = sorted(preferred, key=lambda term: -term["weight"])
    # the order spec.scheduling.nodePools lists them in
    assert [term["preference"] for term in ranked] == [
        {"matchExpressions": [{"key": POOL_LABEL, "operator": "In", "values": [pool]}]}
        for pool in WORKLOADS["hpa"]["spread"]["scheduling"]["nodePools"]]
    assert len({term["weight"] for term in preferred}) == 2 and all(1 <= t["weight"] <= 100 for t in preferred)
    # one pool: nothing to prefer
    assert "preferredDuringSchedulingIgnoredDuringExecution" not in node_affinity(out, "one")


def test_a_uri_store_runs_under_its_service_account(out):
    assert predictor(out, "hpa", "fetched")["serviceAccountName"] == "s3-reader"
    assert [name for env, name in ALL if "serviceAccountName" in predictor(out, env, name)] == ["fetched"]


def test_a_toleration_keeps_its_eviction_delay(out):
    tolerations = predictor(out, "hpa", "spread")["tolerations"]
    assert SPOT in tolerations          # evicted 30 s after the spot node is tainted NoExecute, not at once


# -- refused: what the KEDA HTTP add-on and Knative's autoscaler cannot do


@pytest.fixture(scope="module")
def refused(scaling_repo: Path) -> list[Diagnostic]:
    with pytest.raises(BuildFailed) as failed:
        compile_all(scaling_repo, list(REFUSED_ENVIRONMENTS), render=False)
    return [d for d in failed.value.diagnostics if d.severity == "error"]


def line_of(root: Path, file: str, key: str) -> int:
    """The 1-based line of `key:` in a file a test wrote."""
    lines = (root / file).read_text().splitlines()
    (line,) = [n for n, text in enumerate(lines, 1) if text.lstrip().startswith(f"{key}:")]
    return line


def error_on(refused: list[Diagnostic], env: str, name: str) -> Diagnostic:
    (error,) = [d for d in refused if d.file == f"environments/{env}/workloads/{name}.yaml"]
    return error


# (environment, workload) -> the field its one error is at, and the key on whose line it lands
REFUSED_AT = {
    ("refused", "http-latency"): ("spec.scaling.metric", "metric"),
    ("refused", "http-public"): ("spec.access.type", "type"),
    ("refused", "hpa-fine"): ("spec.scaling.target", "target"),
    ("refused", "max-below-min"): ("spec.scaling.maxReplicas", "maxReplicas"),
    ("refused", "zero-no-after"): ("spec.scaling.minReplicas", "minReplicas"),
    ("refused", "after-not-zero"): ("spec.scaling.scaleToZero", "afterSeconds"),    # the value: the map's first line
    ("refused", "no-metric"): ("spec.scaling", "scaling"),                          # the key: what is missing is in it
    ("refused", "no-target"): ("spec.scaling", "scaling"),
    ("refused", "hpa-latency"): ("spec.scaling.metric", "metric"),
    ("refused", "hpa-throughput"): ("spec.scaling.metric", "metric"),
    ("refused-kn", "kn-latency"): ("spec.scaling.metric", "metric"),
    ("refused-nowake", "zero-nowake"): ("spec.scaling.minReplicas", "minReplicas"),
    ("refused-nowake", "unmeasured"): ("spec.scaling.metric", "metric"),
    ("refused-keda", "keda-no-query"): ("spec.scaling.metric", "metric"),
}


def test_every_refused_workload_is_refused_and_nothing_else(refused):
    assert sorted(REFUSED_AT) == sorted((env, name) for env in REFUSED for name in REFUSED[env])
    expected = [f"environments/{env}/workloads/{name}.yaml" for env, name in REFUSED_AT]
    assert sorted(d.file for d in refused) == sorted(expected)


@pytest.mark.parametrize(("env", "name"), sorted(REFUSED_AT))
def test_a_refused_workload_has_one_error_at_the_field_to_change(refused, scaling_repo, env, name):
    error = error_on(refused, env, name)
    path, key = REFUSED_AT[env, name]
    assert (error.path, error.line) == (path, line_of(scaling_repo, error.file, key))


@pytest.mark.parametrize(("env", "name"), sorted(set(REFUSED_AT) - {("refused", "after-not-zero")}))
def test_a_refused_workload_is_told_what_to_do_instead(refused, env, name):
    assert error_on(refused, env, name).hint


def test_max_below_min_points_at_where_min_replicas_is_set(refused, scaling_repo):
    error = error_on(refused, "refused", "max-below-min")
    assert f"{error.file}:{line_of(scaling_repo, error.file, 'minReplicas')}" in error.hint


def test_scaling_from_zero_without_a_way_to_wake_names_the_environment_file_to_change(refused):
    error = error_on(refused, "refused-nowake", "zero-nowake")
    assert "environments/refused-nowake/environment.yaml" in error.hint and "scaleFromZero" in error.hint


def test_the_http_add_on_cannot_scale_on_latency(refused, scaling_repo):
    error = error_on(refused, "refused", "http-latency")
    assert (error.path, error.line) == ("spec.scaling.metric", line_of(scaling_repo, error.file, "metric"))
    assert "KEDA HTTP add-on" in error.message and "latency" in error.message
    assert error.hint and "concurrency" in error.hint and "throughput" in error.hint


def test_a_workload_waking_through_the_interceptor_must_be_cluster_local(refused, scaling_repo):
    error = error_on(refused, "refused", "http-public")
    assert (error.path, error.line) == ("spec.access.type", line_of(scaling_repo, error.file, "type"))
    assert "KEDA HTTP add-on" in error.message
    assert error.hint and "clusterLocal" in error.hint


def test_knatives_autoscaler_cannot_scale_on_latency(refused, scaling_repo):
    error = error_on(refused, "refused-kn", "kn-latency")
    assert (error.path, error.line) == ("spec.scaling.metric", line_of(scaling_repo, error.file, "metric"))
    assert "Knative" in error.message and "latency" in error.message
    assert error.hint and "concurrency" in error.hint and "throughput" in error.hint
