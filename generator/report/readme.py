"""out/<env>/README.md, from a Jinja2 template in templates/text/."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from pathlib import Path
from typing import assert_never

from jinja2 import Environment as Jinja, FileSystemLoader, StrictUndefined, Template

from .. import resources
from ..model import (ClusterLocal, DeploymentMode, Fixed, GpuFraction, GpuMemory, Hpa, Jwt, Keda, KedaHttp, Knative, LoraFromClaim,
                     LoraFromUri, MigSlice, Ngc, Project, Public, ResolvedEnvironment, WholeGpus, Workload)
from ..quantities import exact, plain

TEXT_TEMPLATES = resources.TEXT_TEMPLATES


@lru_cache(maxsize=None)
def _template(name: str) -> Template:
    jinja = Jinja(loader=FileSystemLoader(TEXT_TEMPLATES), undefined=StrictUndefined, keep_trailing_newline=True,
                  trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return jinja.get_template(name)


def gpu_text(w: Workload) -> str:
    """What one replica takes: whole GPUs, a MIG slice, or a share of a GPU."""
    request = w.compute.gpu
    match request:
        case WholeGpus(count):
            return str(count)
        case MigSlice(profile):
            return f"MIG {profile}"
        case GpuFraction(fraction):
            return f"{plain(fraction)} of a GPU"
        case GpuMemory(mib):
            return f"{mib} MiB of a GPU"
        case _:
            assert_never(request)


def ngc_text(w: Workload) -> str:
    """How the server reaches NGC: with a key, or not at all (an air gap: the cache must already hold the profile)."""
    match w.store:
        case Ngc(key=None):
            named = f"{w.profile.profile.name} " if w.profile.profile else ""
            return f"none (air-gapped): the cache claim must hold profile {named}`{w.profile.pin}`"
        case Ngc(key=key) if key is not None:
            return f"key from Secret `{key.name}`"
        case _:
            return "-"


def lora_text(w: Workload) -> str:
    lora = w.lora
    if lora is None:
        return "-"
    match lora.source:
        case LoraFromClaim(claim, sub_path):
            where = f"claim `{claim}`" + (f" at /{sub_path}" if sub_path else "")
        case LoraFromUri(uri):
            where = f"{uri} (downloaded by KServe)"
        case _:
            assert_never(lora.source)
    limits = [f"{lora.max_gpu_adapters} on the GPU" if lora.max_gpu_adapters else "",
              f"{lora.max_cpu_adapters} in memory" if lora.max_cpu_adapters else "",
              f"rescanned every {lora.refresh_seconds}s" if lora.refresh_seconds else ""]
    return f"{where} in {lora.path}" + "".join(f"; {x}" for x in limits if x)


def outbound_text(w: Workload) -> str:
    """How the server (and its warm-up) reaches NGC and object stores."""
    proxy, bundle = w.network.proxy, w.network.ca_bundle
    found = [f"proxy {proxy.https or proxy.http}"] if proxy and (proxy.https or proxy.http) else []
    if bundle:
        found.append(f"CA bundle `{bundle.config_map}`")
    return "; ".join(found) or "direct"


def project_use(resolved: ResolvedEnvironment) -> dict[str, tuple[Decimal, Decimal]]:
    """Per project, the GPUs its workloads count at minReplicas and at peak (with rollouts' extra replicas)."""
    use = {p.name: (Decimal(0), Decimal(0)) for p in resolved.projects}
    for w in resolved.workloads:
        low, high = use[w.project]
        use[w.project] = (low + w.scaling.min_replicas * w.compute.budget_gpus,
                          high + w.peak_replicas * w.compute.budget_gpus)
    return use


def mig_slices(resolved: ResolvedEnvironment) -> dict[str, str]:
    """Per project, the MIG slices of each type its workloads may hold at peak."""
    counts: dict[str, Counter[str]] = {p.name: Counter() for p in resolved.projects}
    for w in resolved.workloads:
        if isinstance(w.compute.gpu, MigSlice):
            counts[w.project][w.compute.gpu.profile] += w.peak_replicas
    return {name: ", ".join(f"{n} x {profile}" for profile, n in sorted(c.items())) for name, c in counts.items()}


def replicas_text(w: Workload) -> str:
    """What one replica takes, times the replicas it runs (from minReplicas to maxReplicas)."""
    low, high = w.scaling.min_replicas, w.scaling.max_replicas
    return f"{gpu_text(w)} × {low if low == high else f'{low}-{high}'}"


def scaling_text(w: Workload) -> str:
    """The autoscaler, and the metric and target it compares: what a reviewer checks against the load."""
    scaling = w.scaling
    match scaling:
        case Fixed():
            return "fixed"
        case Hpa(pods_metric=metric, target=target):
            # autoscaling/v2 Pods metric, AverageValue target: the metric averaged over the replicas
            return f"hpa: {metric} {plain(exact(target))} per replica"
        case Keda(metric=metric, threshold=threshold, metric_type=metric_type):
            # KEDA divides an AverageValue trigger by the replicas; a Value trigger is a level (a latency)
            per = "per replica" if metric_type == "AverageValue" else "(a level, not per replica)"
            return f"keda: {metric} {threshold} {per}"
        case KedaHttp(scaling_metric=metric, target_value=target, wake=wake):
            return f"keda-http: {metric} {target} per replica{_to_zero(w, scaling.scaledown_period_seconds)}, call `{wake.address}`"
        case Knative(scale_metric=metric, scale_target=target):
            return f"knative: {metric} {target} per replica{_to_zero(w, scaling.retention_seconds)}"
        case _:
            assert_never(scaling)


def _to_zero(w: Workload, idle_seconds: int | None) -> str:
    if w.scaling.min_replicas != 0:
        return ""
    return f", to zero after {idle_seconds}s idle" if idle_seconds else ", to zero when idle"


def access_text(w: Workload) -> str:
    """Who may call the workload: the callers its access level admits, stated plainly."""
    access = w.access
    match access:
        case ClusterLocal():
            # docs/CLUSTER.md: a clusterLocal workload's NetworkPolicy admits its own namespace (and the scrape); in
            # Knative mode callers come through Knative's local gateway; with the KEDA HTTP add-on, through its
            # interceptor only
            if isinstance(w.scaling, KedaHttp):
                return "clusterLocal: callers in the cluster, through the wake address only"
            if w.service.mode is DeploymentMode.KNATIVE:
                return "clusterLocal: callers in the cluster, through Knative's local gateway"
            return f"clusterLocal: pods of namespace `{w.namespace}` only"
        case Public():
            return "public: anyone, no token"
        case Jwt(claim=claim):
            if claim is None:
                return f"authenticated: any valid token of {access.issuer}"
            return f"{access.kind}: {', '.join(f'`{v}`' for v in claim.values)} (token claim `{claim.claim}`)"
        case _:
            assert_never(access)


# Where KServe's ingress answers for an exposed InferenceService. Standard mode: the host KServe's ingress config
# (inferenceservice-config, key `ingress`) makes, whose `domainTemplate` defaults to
# "{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}" and `urlScheme` to "http" (kserve
# pkg/apis/serving/v1beta1/configmap.go: DefaultDomainTemplate, DefaultUrlScheme). Knative mode: KServe takes the
# predictor route's URL without "-predictor" (ingress_reconciler.go, getHostBasedServiceUrl), and Knative's
# config-network `domainTemplate` defaults to "{{.Name}}.{{.Namespace}}.{{.Domain}}" (knative.dev/networking,
# DefaultDomainTemplate).
EXTERNAL_SCHEME = "http"
# KServe's predictor Service is `<isvc>-predictor`, on port 80 (Standard mode); in Knative mode the Knative Service
# of that name has a Route whose cluster-local Service, of the same name, also listens on 80 (knative serving
# route/resources/service.go). The same rule as resolve/naming.py, which report may not import.
PREDICTOR_SUFFIX = "-predictor"


def external_url(w: Workload, domain: str | None) -> str:
    """The URL callers outside the cluster use through KServe's ingress, by KServe's (or Knative's) default
    template, with the environment's ingress domain."""
    if isinstance(w.access, ClusterLocal):
        return "none (cluster-local)"
    if domain is None:
        return "exposed; the domain is not declared (spec.ingress.domain)"
    name = w.service.meta.name
    if w.service.mode is DeploymentMode.KNATIVE:
        return f"{EXTERNAL_SCHEME}://{name}.{w.namespace}.{domain} (Knative's route)"
    return f"{EXTERNAL_SCHEME}://{name}-{w.namespace}.{domain}"


def cluster_address(w: Workload) -> str:
    """The address callers inside the cluster use: the wake Service of a KEDA HTTP add-on workload (only its
    interceptor reaches the pods), else the predictor Service (KServe's, or Knative's route of that name)."""
    if isinstance(w.scaling, KedaHttp):
        return f"http://{w.scaling.wake.address}"
    return f"http://{w.service.meta.name}{PREDICTOR_SUFFIX}.{w.namespace}.svc.cluster.local"


def workload_count(resolved: ResolvedEnvironment, p: Project) -> str:
    count = sum(1 for w in resolved.workloads if w.project == p.name)
    return f"{count} of {p.workloads}" if p.workloads is not None else str(count)


@dataclass(frozen=True)
class ChartRow:
    """One project's bar: four series drawn over each other, longest first, so each shows as a segment."""

    project: str
    over_quota: Decimal                  # peak when it passes the quota (its part beyond the quota shows), else 0
    quota: Decimal                       # its part beyond the peak shows: quota unused at peak
    in_quota: Decimal                    # the peak, up to the quota
    guaranteed: Decimal                  # at minReplicas


def chart_rows(resolved: ResolvedEnvironment) -> list[ChartRow]:
    use = project_use(resolved)
    rows = []
    for p in sorted(resolved.projects, key=lambda p: p.name):
        guaranteed, peak = use[p.name]
        quota = p.budget.quota
        rows.append(ChartRow(p.name, peak if peak > quota else Decimal(0), quota, min(peak, quota), guaranteed))
    return rows


# The series' colours, in the order they are drawn: over quota, quota unused at peak, peak within quota, guaranteed.
CHART_COLORS = ("#d62728", "#c7c7c7", "#6baed6", "#08519c")


def gpu_chart(resolved: ResolvedEnvironment) -> str:
    """A Mermaid xychart (GitHub renders it) of each project's GPUs: guaranteed, peak and quota. xychart draws the
    bars of several series over each other at the same place, in order: drawing the longest first stacks them."""
    rows = chart_rows(resolved)
    if not rows:
        return ""
    top = max(max(r.quota, r.over_quota) for r in rows)
    top = max(top.to_integral_value(rounding=ROUND_CEILING), Decimal(1))

    def series(values: list[Decimal]) -> str:
        return "[" + ", ".join(plain(v) for v in values) + "]"

    return "\n".join([
        "```mermaid",
        "---",
        "config:",
        "  themeVariables:",
        "    xyChart:",
        f'      plotColorPalette: "{", ".join(CHART_COLORS)}"',
        "---",
        "xychart-beta horizontal",
        '    title "GPUs per project: guaranteed, peak and quota"',
        "    x-axis [" + ", ".join(f'"{r.project}"' for r in rows) + "]",
        f'    y-axis "GPUs" 0 --> {plain(top)}',
        f"    bar {series([r.over_quota for r in rows])}",
        f"    bar {series([r.quota for r in rows])}",
        f"    bar {series([r.in_quota for r in rows])}",
        f"    bar {series([r.guaranteed for r in rows])}",
        "```",
    ])


def readme(resolved: ResolvedEnvironment, files: list[str]) -> str:
    warmups = [w for w in resolved.workloads if isinstance(w.store, Ngc) and w.store.warmup is not None]
    exposed = [w for w in resolved.workloads if not isinstance(w.access, ClusterLocal)]
    text = _template("out-readme.md.j2").render(env=resolved.environment, projects=resolved.projects,
                                                warmups=warmups,
                                                warmup_namespaces=sorted({w.namespace for w in warmups}),
                                                warmup_timeout=max((w.store.warmup.active_deadline_seconds for w in warmups
                                                                    if isinstance(w.store, Ngc) and w.store.warmup), default=0),
                                                workloads=resolved.workloads, prerequisites=resolved.prerequisites, exposures=resolved.exposures,
                                                files=files, plain=plain, gpu_text=gpu_text, ngc_text=ngc_text, lora_text=lora_text,
                                                outbound_text=outbound_text, replicas_text=replicas_text, scaling_text=scaling_text,
                                                access_text=access_text, external_url=external_url,
                                                cluster_address=cluster_address, domain=resolved.environment.gateway.domain,
                                                workload_count=lambda p: workload_count(resolved, p),
                                                chart=gpu_chart(resolved),
                                                knative_mode=any(w.service.mode is DeploymentMode.KNATIVE for w in resolved.workloads),
                                                exposed_standard=any(w.service.mode is DeploymentMode.STANDARD for w in exposed),
                                                exposed_knative=any(w.service.mode is DeploymentMode.KNATIVE for w in exposed),
                                                standard_mode=any(w.service.mode is DeploymentMode.STANDARD and not isinstance(w.scaling, KedaHttp)
                                                                  for w in resolved.workloads),
                                                wake=any(isinstance(w.scaling, KedaHttp) for w in resolved.workloads),
                                                capacity={u.pool: u for u in resolved.capacity},
                                                departments=resolved.departments,
                                                members={d.name: sorted(p.name for p in resolved.projects
                                                                        if p.department == d.name)
                                                         for d in resolved.departments},
                                                use=project_use(resolved), slices=mig_slices(resolved),
                                                shared=any(not isinstance(w.compute.gpu, WholeGpus)
                                                           for w in resolved.workloads))
    return text.rstrip("\n") + "\n"
