"""Scaling: replicas, the autoscaler each environment's backend implies, its timing, and the disruption budget."""

from __future__ import annotations

import math
from decimal import Decimal

from ..model import DisruptionBudget, Fixed, Hpa, Keda, Knative, Meta, ScaleTarget, Scaling
from . import naming
from .context import WorkloadContext

# A NIM replica takes minutes to become ready: scale down slowly to avoid flapping.
HPA_SCALE_DOWN_WINDOW_SECONDS = 600
KEDA_POLLING_INTERVAL_SECONDS = 15
# KServe's serving.kserve.io/autoscalerClass: "external" leaves the Deployment's replicas to nimgen's HPA or
# ScaledObject; "none" keeps them fixed. Knative's KPA needs no class (its own default).
AUTOSCALER_CLASS = {Fixed: "none", Hpa: "external", Keda: "external"}
# Knative's KPA measures concurrency or requests per second itself.
KNATIVE_METRIC = {"concurrency": "concurrency", "throughput": "rps", "latency": "concurrency"}


def quantity_of(number: float) -> str:
    """A metric target as a Kubernetes quantity: 8.0 -> '8', 0.5 -> '500m'."""
    value = Decimal(str(number))
    if value == value.to_integral_value():
        return str(int(value))
    return f"{int(value * 1000)}m"


def plain_number(number: float) -> str:
    """KEDA parses thresholds as floats, not quantities: 8.0 -> '8', 0.5 -> '0.5'."""
    return f"{number:g}"


def resolve_scaling(ctx: WorkloadContext) -> Scaling:
    env = ctx.env
    spec = ctx.spec.get("scaling", {})
    low = ctx.value(("spec", "scaling", "minReplicas"), 1)
    high = ctx.value(("spec", "scaling", "maxReplicas"), max(low, 1))
    backend = env.autoscaling_backend
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
    if zero is not None and backend == "hpa":
        ctx.error(("spec", "scaling", "scaleToZero"), f"environment {env.name} scales with hpa, which cannot scale to zero",
                  "use autoscaling.backend keda (or knative) in the environment")
    if high == low and low > 0:
        return Fixed(low, high)
    metric = ctx.value(("spec", "scaling", "metric"))
    target = ctx.value(("spec", "scaling", "target"))
    if metric is None or target is None:
        ctx.error(("spec", "scaling"), f"autoscaling between {low} and {high} replicas needs metric and target",
                  "e.g. {metric: concurrency, target: 8}", key=True)
        return Fixed(low, high)
    target = float(target)
    if backend == "knative":
        return Knative(low, high, metric, target, KNATIVE_METRIC[metric], max(1, math.ceil(target)))
    source = env.metric(metric)
    if source is None:
        ctx.error(("spec", "scaling", "metric"), f"environment {env.name} does not say how to measure '{metric}'",
                  "add it under spec.autoscaling.metrics in environment.yaml")
        return Fixed(low, high)
    autoscaler = Meta(ctx.name)
    deployment = ScaleTarget("apps/v1", "Deployment", naming.predictor_deployment(ctx.name))
    if backend == "hpa":
        if not source.pods_metric:
            ctx.error(("spec", "scaling", "metric"), f"metric '{metric}' has only a PromQL query, which an HPA cannot read",
                      "give it a podsMetric (served by the Prometheus adapter) or use the keda backend")
            return Fixed(low, high)
        return Hpa(autoscaler, deployment, low, high, metric, target, source.pods_metric, quantity_of(target),
                   HPA_SCALE_DOWN_WINDOW_SECONDS)
    if not source.query:
        ctx.error(("spec", "scaling", "metric"), f"metric '{metric}' has no PromQL query for KEDA",
                  "add a query under spec.autoscaling.metrics in environment.yaml")
        return Fixed(low, high)
    query = source.query.replace("{namespace}", ctx.project.namespace).replace("{name}", ctx.name)
    return Keda(autoscaler, deployment, low, high, metric, target, KEDA_POLLING_INTERVAL_SECONDS,
                zero["afterSeconds"] if zero else None, env.prometheus_address, query, plain_number(target))


def disruption_budget(ctx: WorkloadContext, scaling: Scaling) -> DisruptionBudget | None:
    """With two or more replicas always up, voluntary evictions (node drains) take one at a time."""
    if scaling.min_replicas < 2:
        return None
    return DisruptionBudget(Meta(ctx.name), naming.pod_selector(ctx.name), max_unavailable=1)


def autoscaler_class(scaling: Scaling) -> str | None:
    return AUTOSCALER_CLASS.get(type(scaling))
