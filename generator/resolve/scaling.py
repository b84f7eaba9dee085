"""Scaling: replicas, the autoscaler the environment implies, how a workload wakes from zero, and the
disruption budget.

Which backend reads which metric how is decided here once:
- hpa reads a per-pod metric from the metrics API (Prometheus adapter) as an average across pods;
- keda queries Prometheus; a sum shared by replicas (concurrency, throughput) is an `AverageValue`, a level
  such as latency a `Value` (desired = current x metric / target);
- knative's KPA and the KEDA HTTP add-on count requests themselves: concurrency and request rate only.
A workload at minReplicas 0 needs something that holds the first request while a pod starts: the
environment's `autoscaling.scaleFromZero` names it (Knative's activator or the KEDA HTTP interceptor).
"""

from __future__ import annotations

import math
from decimal import Decimal

from ..model import (AutoscalingBackend, DisruptionBudget, Fixed, Hpa, Keda, KedaHttp, Knative, Meta, Pace, ScaleTarget, Scaling,
                     WakeByKedaHttp, WakeService)
from ..quantities import exact, plain
from . import naming, nim
from .access import AccessLevel, access_level
from .context import WorkloadContext

# A NIM replica takes minutes to become ready: scale down slowly to avoid flapping, and add at most one replica
# per start-up window (Pace). The HPA's behavior takes a scale-up policy's periodSeconds up to 1800 and a
# stabilization window up to 3600 (Kubernetes API validation of HPAScalingRules); a Standard-mode window is
# at most 420 s. KEDA passes advanced.horizontalPodAutoscalerConfig.behavior to the HPA it creates.
HPA_SCALE_DOWN_WINDOW_SECONDS = 600
SCALE_UP_PODS = 1
# When its Prometheus query fails this many times in a row, KEDA scales to the fallback replicas; with behavior
# currentReplicasIfHigher it keeps the current count when that is higher, so an outage of Prometheus never
# removes serving replicas. KEDA accepts a fallback only on AverageValue triggers (its admission webhook
# refuses one beside a Value trigger; a Value trigger's latency gets none).
KEDA_FALLBACK_FAILURES = 3
KEDA_POLLING_INTERVAL_SECONDS = 15
# Knative's KPA measures concurrency or requests per second itself; latency it cannot see.
KNATIVE_METRIC = {"concurrency": "concurrency", "throughput": "rps"}
# The KEDA HTTP add-on's HTTPScaledObject scalingMetric (http-add-on v0.15 CRD: concurrency | requestRate).
KEDA_HTTP_METRIC = {"concurrency": "concurrency", "throughput": "requestRate"}
# KEDA's default metricType AverageValue divides the metric by the target whatever the replica count: right for
# a sum over replicas, wrong for a latency, which must be compared as a Value (keda.sh ScaledObject spec).
KEDA_METRIC_TYPE = {"concurrency": "AverageValue", "throughput": "AverageValue", "latency": "Value"}
# KServe's predictor Service listens on 80 and forwards to the container port (kserve service_reconciler.go).
PREDICTOR_SERVICE_PORT = 80
# The interceptor's defaults (KEDA_CONDITION_WAIT_TIMEOUT 20s; KEDA_RESPONSE_HEADER_TIMEOUT 500ms up to add-on
# 0.13) are far below a NIM cold start and a non-streamed completion: hold the first request for the start-up window.
KEDA_HTTP_RESPONSE_HEADER_TIMEOUT = "300s"


def quantity_of(number: float) -> str | None:
    """A metric target as a Kubernetes quantity: 8.0 -> '8', 0.5 -> '500m'; None when milli-units cannot hold
    it exactly (the HPA compares metrics in milli-units: 0.0001 would become 0m)."""
    value = Decimal(str(number))
    if value == value.to_integral_value():
        return str(int(value))
    milli = value * 1000
    return f"{int(milli)}m" if milli == milli.to_integral_value() else None


def plain_number(number: float) -> str:
    """KEDA parses thresholds as floats, not quantities: 8.0 -> '8', 0.5 -> '0.5', every digit the user wrote
    (the shortest text that reads back as the same float, never an exponent)."""
    return plain(exact(float(number)))


def resolve_scaling(ctx: WorkloadContext, start_seconds: int) -> Scaling:
    """`start_seconds` is the Standard-mode start-up window: the HPA, KEDA and the HTTP add-on scale Deployments,
    which exist in Standard mode only."""
    env = ctx.env
    spec = ctx.spec.get("scaling", {})
    low = ctx.value(("spec", "scaling", "minReplicas"), 1)
    high = ctx.value(("spec", "scaling", "maxReplicas"), max(low, 1))
    if high < low:
        file, line, _ = ctx.doc.where(("spec", "scaling", "minReplicas"))
        ctx.error(("spec", "scaling", "maxReplicas"), f"must be >= minReplicas ({low})", f"minReplicas is set at {file}:{line}")
        return Fixed(low, high)
    zero = spec.get("scaleToZero")
    if low == 0 and zero is None:
        ctx.error(("spec", "scaling", "minReplicas"), "minReplicas 0 needs scaleToZero: {afterSeconds: N}",
                  "say how long an idle endpoint is kept before it scales to zero")
    if zero is not None and low != 0:
        ctx.error(("spec", "scaling", "scaleToZero"), f"scaleToZero needs minReplicas 0, found {low}")
    if low == 0 and env.scale_from_zero is None:
        ctx.error(("spec", "scaling", "minReplicas"),
                  f"minReplicas 0 needs a way to wake on the first request, and environment {env.name} sets no "
                  "autoscaling.scaleFromZero",
                  f"declare spec.autoscaling.scaleFromZero: {{via: knative | keda-http}} in {env.source}, or keep minReplicas >= 1")
        return Fixed(low, high)
    if high == low and low > 0:
        return Fixed(low, high)
    metric = ctx.value(("spec", "scaling", "metric"))
    target = ctx.value(("spec", "scaling", "target"))
    if metric is None or target is None:
        ctx.error(("spec", "scaling"), f"autoscaling between {low} and {high} replicas needs metric and target",
                  "e.g. {metric: concurrency, target: 8}", key=True)
        return Fixed(low, high)
    target = float(target)
    after = zero["afterSeconds"] if zero else None
    if low == 0 and isinstance(env.scale_from_zero, WakeByKedaHttp):
        return _keda_http(ctx, env.scale_from_zero, low, high, metric, target, after or 0, start_seconds)
    if low == 0 or env.autoscaling_backend is AutoscalingBackend.KNATIVE:
        return _knative(ctx, low, high, metric, target, after)
    source = env.metric(metric)
    if source is None:
        ctx.error(("spec", "scaling", "metric"), f"environment {env.name} does not say how to measure '{metric}'",
                  "add it under spec.autoscaling.metrics in environment.yaml")
        return Fixed(low, high)
    autoscaler = Meta(ctx.name)
    deployment = _predictor(ctx)
    if env.autoscaling_backend is AutoscalingBackend.HPA:
        if metric == "latency":
            ctx.error(("spec", "scaling", "metric"), "the hpa backend compares a pod metric as an average across "
                      "pods, which a latency is not", "scale on latency with autoscaling.backend keda (a Value target)")
            return Fixed(low, high)
        if not source.pods_metric:
            ctx.error(("spec", "scaling", "metric"), f"metric '{metric}' has only a PromQL query, which an HPA cannot read",
                      "give it a podsMetric (served by the Prometheus adapter) or use the keda backend")
            return Fixed(low, high)
        average = quantity_of(target)
        if average is None:
            ctx.error(("spec", "scaling", "target"), f"target {target:g} is finer than the HPA's milli-unit precision",
                      "give at most three decimals, e.g. 0.5 or 0.125")
            return Fixed(low, high)
        return Hpa(autoscaler, deployment, low, high, metric, target, source.pods_metric, average, pace(start_seconds))
    if not source.query:
        ctx.error(("spec", "scaling", "metric"), f"metric '{metric}' has no PromQL query for KEDA",
                  "add a query under spec.autoscaling.metrics in environment.yaml")
        return Fixed(low, high)
    query = idle_reads_zero(source.query.replace("{namespace}", ctx.project.namespace).replace("{name}", ctx.name))
    metric_type = KEDA_METRIC_TYPE[metric]
    return Keda(autoscaler, deployment, low, high, metric, target, KEDA_POLLING_INTERVAL_SECONDS,
                env.prometheus_address or "", query, plain_number(target), metric_type, pace(start_seconds),
                fallback_replicas=low if metric_type == "AverageValue" else None,
                fallback_failures=KEDA_FALLBACK_FAILURES)


def pace(start_seconds: int) -> Pace:
    return Pace(SCALE_UP_PODS, start_seconds, HPA_SCALE_DOWN_WINDOW_SECONDS)


def idle_reads_zero(query: str) -> str:
    """A query that reads a number when the workload is idle. A quantile of no requests is NaN (histogram_quantile
    of zero rates; an average divides 0 by 0), which KEDA takes as a value, not as missing; a comparison drops a
    NaN sample (NaN >= 0 is false), and `or on() vector(0)` then answers 0, as it does for a query with no
    series; on() matches on no label, so the 0 joins only an empty result, never a labelled series beside it."""
    return f"(({query}) >= 0) or on() vector(0)"


def _predictor(ctx: WorkloadContext) -> ScaleTarget:
    return ScaleTarget("apps/v1", "Deployment", naming.predictor(ctx.name))


def _counted_by_requests(ctx: WorkloadContext, metric: str, who: str, known: dict[str, str]) -> bool:
    if metric in known:
        return True
    ctx.error(("spec", "scaling", "metric"), f"{who} counts requests and cannot scale on {metric}",
              f"use {' or '.join(sorted(known))}, or keep minReplicas >= 1 on the keda backend for latency")
    return False


def whole_requests(target: float) -> int:
    """Knative's KPA and the HTTP add-on count whole requests: a target rounds up, and is at least one."""
    return max(1, math.ceil(target))


def _knative(ctx: WorkloadContext, low: int, high: int, metric: str, target: float, after: int | None) -> Scaling:
    if not _counted_by_requests(ctx, metric, "Knative's autoscaler", KNATIVE_METRIC):
        return Fixed(low, high)
    return Knative(low, high, metric, target, KNATIVE_METRIC[metric], whole_requests(target), after)


def _keda_http(ctx: WorkloadContext, zero: WakeByKedaHttp, low: int, high: int, metric: str, target: float,
               after: int, start_seconds: int) -> Scaling:
    if not _counted_by_requests(ctx, metric, "the KEDA HTTP add-on", KEDA_HTTP_METRIC):
        return Fixed(low, high)
    if access_level(ctx.spec) is not AccessLevel.CLUSTER_LOCAL:
        ctx.error(("spec", "access", "type"), "a workload that scales from zero through the KEDA HTTP add-on wakes "
                  "only for callers inside the cluster: KServe routes the gateway straight to the predictor",
                  "use access clusterLocal, or scaleFromZero via knative in the environment, or minReplicas 1")
        return Fixed(low, high)
    ns = ctx.project.namespace
    return KedaHttp(
        Meta(ctx.name), _predictor(ctx), low, high, metric, target,
        service=naming.predictor(ctx.name), service_port=PREDICTOR_SERVICE_PORT,
        hosts=naming.wake_hosts(ctx.name, ns),
        scaling_metric=KEDA_HTTP_METRIC[metric], target_value=whole_requests(target),
        scaledown_period_seconds=after, condition_wait=f"{nim.deadline(start_seconds)}s",
        response_header=KEDA_HTTP_RESPONSE_HEADER_TIMEOUT,
        wake=WakeService(Meta(naming.wake_service(ctx.name)), zero.interceptor_address, zero.interceptor_port,
                         naming.wake_address(ctx.name, ns, zero.interceptor_port)))


def disruption_budget(ctx: WorkloadContext, scaling: Scaling) -> DisruptionBudget | None:
    """With two or more replicas always up, voluntary evictions (node drains) take one at a time."""
    if scaling.min_replicas < 2:
        return None
    return DisruptionBudget(Meta(ctx.name), naming.pod_selector(ctx.name), max_unavailable=1)
