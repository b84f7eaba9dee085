"""Stage 3, resolve: turn validated documents into the frozen model (generator/model.py).

All cross-file rules live here: project references, duplicate names, gallery look-ups (compute templates, data
sources, the NIM catalog), profile selection against the node pools, storage, placement, quota. Every problem
becomes a Diagnostic pointing at the value that caused it; resolve keeps going to report as many as it can.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from . import quantities
from .catalog import CatalogModel
from .diagnostics import WARNING, Diagnostic
from .load import Document, PathKey
from .model import (Access, CacheVolume, Compute, Environment, Identity, MetricSource, NodePool, Placement,
                    Project, ProfileDecision, ResolvedEnvironment, Scaling, Store, Taint, Toleration, Workload)
from .profiles import Pool, Profile, check_profile, select_profile

NIM_CACHE_PATH = "/opt/nim/.cache"
DEFAULT_PULL_SECRET = "ngc-secret"
NGC_KEY_PATTERN = re.compile(r"nvapi-[A-Za-z0-9_-]{8,}")
KAI_SCHEDULER = "kai-scheduler"


def _labels(mapping: dict | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((mapping or {}).items()))


def _suggest(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return f"known: {', '.join(sorted(choices))}" if choices else None


def origin_label(file: str) -> str:
    return "base" if file.startswith("environments/base/") else "environment"


@dataclass
class Gallery:
    """Reusable entries by name: compute templates, data sources and catalog models (with their documents)."""

    compute: dict[str, Document] = field(default_factory=dict)
    datasources: dict[str, Document] = field(default_factory=dict)
    models: dict[str, CatalogModel] = field(default_factory=dict)
    invalid: set[tuple[str, str]] = field(default_factory=set)   # (kind, name) already reported as invalid


# --------------------------------------------------------------------------------------------- secrets


def scan_for_secrets(doc: Document) -> list[Diagnostic]:
    """A literal NGC API key anywhere in the input is an error: keys belong in Secrets, never in git."""
    found: list[Diagnostic] = []

    def walk(value: Any, path: PathKey) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, path + (key,))
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, path + (i,))
        elif isinstance(value, str) and NGC_KEY_PATTERN.search(value):
            found.append(doc.diagnostic(path, "a literal NGC API key (nvapi-...) must never be written in an input file",
                                        "store it in a Secret (key NGC_API_KEY) and name the Secret in spec.store.ngc.secret; "
                                        "then revoke this key, it is in git history now"))

    walk(doc.data, ())
    return found


# --------------------------------------------------------------------------------------------- environment


def resolve_environment_spec(doc: Document, name: str) -> Environment:
    spec = doc.data["spec"]
    kserve = spec.get("kserve", {})
    autoscaling = spec.get("autoscaling", {})
    scheduler = spec.get("scheduler", {})
    identity = spec.get("identity")
    pools = tuple(
        NodePool(
            name=p["name"], product=p["gpu"]["product"], per_node=p["gpu"]["perNode"],
            memory=quantities.canonical(p["gpu"]["memory"]) if "memory" in p["gpu"] else None,
            device=p["gpu"].get("device"), mig_profiles=tuple(p["gpu"].get("migProfiles", ())),
            taints=tuple(Taint(t["key"], t["effect"], t.get("value")) for t in p.get("taints", ())),
        )
        for p in spec["nodePools"]
    )
    metrics = tuple(sorted((k, MetricSource(v.get("podsMetric"), v.get("query")))
                           for k, v in autoscaling.get("metrics", {}).items()))
    sched_name = scheduler.get("name", "default")
    return Environment(
        name=name, source=doc.file,
        kubernetes_version=spec["kubernetesVersion"],
        kserve_version=kserve.get("version", "0.20"),
        deployment_mode=kserve.get("deploymentMode", "Standard"),
        autoscaling_backend=autoscaling.get("backend", "hpa"),
        prometheus_address=autoscaling.get("prometheus", {}).get("serverAddress"),
        metrics=metrics,
        scheduler=sched_name,
        node_pool_label=scheduler.get("nodePoolLabel", "nimgen.dev/node-pool"),
        node_type_label=scheduler.get("nodeTypeLabel", "nimgen.dev/node-type"),
        priority_class=scheduler.get("priorityClassName", "inference" if sched_name == "kai" else None),
        node_pools=pools,
        storage_default_class=spec.get("storage", {}).get("defaultClass"),
        storage_shared_class=spec.get("storage", {}).get("sharedClass"),
        gateway_namespace=spec.get("ingress", {}).get("gatewayNamespace", "istio-system"),
        monitoring_namespace=spec.get("monitoring", {}).get("namespace", "monitoring"),
        identity=Identity(identity["issuer"], identity["jwksUri"], tuple(identity.get("audiences", ())),
                          identity.get("groupsClaim", "groups"), identity.get("userClaim", "email")) if identity else None,
        allow_public_endpoints=spec.get("policy", {}).get("allowPublicEndpoints", False),
        auto_tolerate_taints=spec.get("policy", {}).get("autoTolerateTaints", True),
        labels=_labels(spec.get("labels")),
    )


def environment_problems(doc: Document, env: Environment) -> list[Diagnostic]:
    problems = []
    if doc.data["metadata"]["name"] != env.name:
        problems.append(doc.diagnostic(("metadata", "name"), f"environment name '{doc.data['metadata']['name']}' "
                                       f"does not match its folder environments/{env.name}/",
                                       f"set metadata.name: {env.name} in environments/{env.name}/environment.yaml"))
    seen: dict[str, int] = {}
    for i, pool in enumerate(env.node_pools):
        if pool.name in seen:
            problems.append(doc.diagnostic(("spec", "nodePools", i, "name"), f"duplicate node pool '{pool.name}'"))
        seen[pool.name] = i
    if env.autoscaling_backend == "keda" and not env.prometheus_address:
        problems.append(doc.diagnostic(("spec", "autoscaling"), "backend keda needs prometheus.serverAddress",
                                       "KEDA's prometheus trigger queries this address", key=True))
    return problems


# --------------------------------------------------------------------------------------------- projects


def resolve_project(doc: Document, env: Environment) -> Project:
    data = doc.data
    spec = data["spec"]
    quota = spec["quota"]
    over = spec.get("overQuota", {})
    name = data["metadata"]["name"]
    labels = dict(env.labels)
    labels.update(spec.get("labels", {}))
    return Project(
        name=name, namespace=spec.get("namespace", name), sources=_sources(doc),
        quota_gpus=quota["gpus"],
        quota_cpu=quantities.canonical(quota["cpu"]) if "cpu" in quota else None,
        quota_memory=quantities.canonical(quota["memory"]) if "memory" in quota else None,
        quota_workloads=quota.get("workloads"),
        over_quota_weight=over.get("weight", 1),
        gpu_limit=over.get("gpuLimit"),
        labels=_labels(labels),
    )


def _sources(doc: Document) -> tuple[str, ...]:
    return tuple(sorted({pos[0] for pos in doc.positions.values()}))


# --------------------------------------------------------------------------------------------- workloads


class WorkloadResolver:
    """Resolves one InferenceWorkload document; collects problems instead of stopping at the first."""

    def __init__(self, doc: Document, env: Environment, project: Project, gallery: Gallery):
        self.doc, self.env, self.project, self.gallery = doc, env, project, gallery
        self.spec = doc.data["spec"]
        self.name = doc.data["metadata"]["name"]
        self.problems: list[Diagnostic] = []
        self.effective: list[tuple[str, Any, str]] = []
        self.template_failed = False

    # -- helpers
    def error(self, path: PathKey, message: str, hint: str | None = None, key: bool = False) -> None:
        self.problems.append(self.doc.diagnostic(path, message, hint, key=key))

    def warn(self, path: PathKey, message: str, hint: str | None = None) -> None:
        self.problems.append(self.doc.diagnostic(path, message, hint, severity=WARNING))

    def record(self, path: str, value: Any, origin: str) -> Any:
        self.effective.append((path, value, origin))
        return value

    def from_doc(self, path: PathKey) -> str:
        file, line, _ = self.doc.where(path)
        return f"{origin_label(file)} ({file}:{line})"

    def value(self, path: PathKey, default: Any = None, *, default_origin: str = "default") -> Any:
        """The value at `path` in the workload, recorded for explain with where it came from."""
        node: Any = self.doc.data
        for part in path:
            if not isinstance(node, dict) or part not in node:
                if default is not None:
                    self.record(".".join(map(str, path)), default, default_origin)
                return default
            node = node[part]
        self.record(".".join(map(str, path)), node, self.from_doc(path))
        return node

    # -- the whole workload
    def resolve(self) -> Workload | None:
        compute_spec = self.compute_spec()
        pools = self.candidate_pools(compute_spec)
        model, version, image, catalog = self.model()
        scaling = self.scaling()
        decision, gpus = self.profile(catalog, version, pools, compute_spec)
        compute = self.compute(compute_spec, gpus)
        store = self.store(scaling)
        access = self.access()
        placement = self.placement(pools, compute)
        if any(p.severity == "error" for p in self.problems) or decision is None or compute is None:
            return None
        metadata = self.doc.data["metadata"]
        labels = dict(self.project.labels)
        labels.update(metadata.get("labels", {}))
        return Workload(
            name=self.name, project=self.project, sources=_sources(self.doc),
            labels=_labels(labels), annotations=_labels(metadata.get("annotations")),
            image=image, model=model, model_version=version, profile=decision, access=access, store=store,
            compute=compute, scaling=scaling, placement=placement, pull_secrets=self.pull_secrets(image),
            effective=tuple(self.effective),
        )

    # -- compute: template first, explicit fields over it
    def compute_spec(self) -> dict[str, tuple[Any, str]]:
        explicit = self.spec.get("compute", {})
        merged: dict[str, tuple[Any, str]] = {}
        template_name = explicit.get("template")
        if template_name is not None:
            self.value(("spec", "compute", "template"))
            template = self.gallery.compute.get(template_name)
            if template is None:
                self.template_failed = True
                if ("ComputeTemplate", template_name) in self.gallery.invalid:
                    return merged  # its own errors are reported already
                self.error(("spec", "compute", "template"), f"unknown compute template '{template_name}'",
                           _suggest(template_name, list(self.gallery.compute)))
            else:
                for key, val in template.data["spec"].items():
                    file, line, _ = template.where(("spec", key))
                    merged[key] = (val, f"template {template_name} ({file}:{line})")
        for key, val in explicit.items():
            if key != "template":
                merged[key] = (val, self.from_doc(("spec", "compute", key)))
        for key, (val, origin) in sorted(merged.items()):
            self.record(f"spec.compute.{key}", val, origin)
        return merged

    def candidate_pools(self, compute_spec: dict[str, tuple[Any, str]]) -> list[NodePool]:
        """The node pools this workload may land on, in priority order."""
        by_name = {p.name: p for p in self.env.node_pools}
        product = compute_spec.get("gpuProduct", (None,))[0]
        mig = compute_spec.get("migProfile", (None,))[0]
        wanted = self.value(("spec", "scheduling", "nodePools"))
        if wanted:
            pools = []
            for i, name in enumerate(wanted):
                if name not in by_name:
                    self.error(("spec", "scheduling", "nodePools", i), f"unknown node pool '{name}' in environment {self.env.name}",
                               _suggest(name, list(by_name)))
                    continue
                pool = by_name[name]
                if product and pool.product.lower() != str(product).lower():
                    self.error(("spec", "scheduling", "nodePools", i),
                               f"node pool '{name}' has {pool.product}, but compute asks for gpuProduct {product}")
                if mig and mig not in pool.mig_profiles:
                    self.error(("spec", "scheduling", "nodePools", i), f"node pool '{name}' offers no MIG slice {mig}",
                               f"declare it in the pool's gpu.migProfiles ({', '.join(pool.mig_profiles) or 'none declared'})")
                pools.append(pool)
            return pools
        pools = list(self.env.node_pools)
        if product:
            pools = [p for p in pools if p.product.lower() == str(product).lower()]
            if not pools:
                self.error(("spec", "compute", "gpuProduct"), f"no node pool of environment {self.env.name} has {product}",
                           _suggest(str(product), sorted({p.product for p in self.env.node_pools})))
        if mig:
            pools = [p for p in pools if mig in p.mig_profiles]
            if not pools:
                self.error(("spec", "compute", "migProfile"), f"no node pool of environment {self.env.name} offers MIG slice {mig}")
        return pools

    # -- model: a catalog entry or a custom image
    def model(self) -> tuple[str | None, str | None, str, CatalogModel | None]:
        model = self.spec["model"]
        if "image" in model:
            image = self.value(("spec", "model", "image"))
            return None, None, image, None
        name, version = self.value(("spec", "model", "nim")), str(self.value(("spec", "model", "version")))
        catalog = self.gallery.models.get(name)
        if catalog is None:
            self.error(("spec", "model", "nim"), f"unknown NIM model '{name}'", _suggest(name, list(self.gallery.models)))
            return name, version, "", None
        if catalog.profiles(version) is None:
            self.error(("spec", "model", "version"), f"model {name} has no version '{version}' in the catalog",
                       f"catalog versions: {', '.join(catalog.version_names)}")
            return name, version, "", None
        return name, version, f"{catalog.image}:{version}", catalog

    # -- profile: pinned at build time
    def profile(self, catalog: CatalogModel | None, version: str | None, pools: list[NodePool],
                compute_spec: dict[str, tuple[Any, str]]) -> tuple[ProfileDecision | None, int | None]:
        requested = self.spec.get("profile", {"auto": {}})
        explicit_gpus = compute_spec.get("gpus", (None,))[0]
        mig = compute_spec.get("migProfile", (None,))[0]
        origin = self.from_doc(("spec", "profile")) if "profile" in self.spec else "default"
        self.record("spec.profile", requested, origin)
        if catalog is None:
            if "image" not in self.spec["model"]:
                return None, None  # unknown model: already reported
            if "auto" in requested:
                self.error(("spec", "profile") if "profile" in self.spec else ("spec", "model", "image"),
                           "a custom image needs a manual profile: nimgen cannot choose among profiles it does not know",
                           "set spec.profile.name or spec.profile.id")
                return None, None
            if explicit_gpus is None and mig is None:
                self.error(("spec", "compute"), "a custom image needs an explicit GPU count (compute.gpus)",
                           "nimgen cannot derive it from a profile outside the catalog", key=True)
                return None, None
            pin = requested.get("name") or requested.get("id")
            return ProfileDecision("name" if "name" in requested else "id", pin, None,
                                   request=f"manual {pin} (custom image)"), explicit_gpus or 1
        profiles = catalog.profiles(version) or ()
        nim_pools = [self.nim_pool(p) for p in pools]
        if not nim_pools:
            return None, None  # no pool: reported by candidate_pools
        checks = dict(gpus=explicit_gpus, mig_profile=mig, parameters_billions=catalog.parameters_billions)
        if "auto" in requested:
            auto = requested["auto"]
            optimize_for, lora = auto.get("optimizeFor", "throughput"), auto.get("lora", False)
            selection = select_profile(profiles, nim_pools, optimize_for=optimize_for, lora=lora, **checks)
            request = (f"auto (optimizeFor {optimize_for}, lora {str(lora).lower()}) on "
                       + ", ".join(f"{p.name} ({p.product} x{p.per_node})" for p in pools))
            if selection.chosen is None:
                reasons = "; ".join(sorted({f"{r.profile.name}: {r.reason}" for r in selection.rejected})[:6])
                self.error(("spec", "profile") if "profile" in self.spec else ("spec", "model"),
                           f"no profile of {catalog.name} {version} can run here: {request}",
                           f"run 'nimgen explain {self.env.name} {self.name}' for every candidate; e.g. {reasons}")
                return None, None
            chosen = selection.chosen
            return ProfileDecision("auto", chosen.pin, chosen, selection, request), explicit_gpus or chosen.gpus
        key = "name" if "name" in requested else "id"
        wanted = requested[key]
        matches = [p for p in profiles if getattr(p, key) == wanted]
        if not matches:
            known = [getattr(p, key) for p in profiles if getattr(p, key)]
            self.error(("spec", "profile", key), f"model {catalog.name} {version} has no profile with {key} '{wanted}'",
                       _suggest(wanted, known) if key == "name" else "list the catalog's ids with 'nimgen explain'")
            return None, None
        if len(matches) > 1:
            self.error(("spec", "profile", key), f"profile {key} '{wanted}' is ambiguous in {catalog.name} {version}",
                       "pin it by id: " + ", ".join(p.id or p.name for p in matches))
            return None, None
        chosen = matches[0]
        rejections = check_profile(chosen, nim_pools, **checks)
        for rejection in rejections:
            self.error(("spec", "profile", key),
                       f"profile {chosen.name} cannot run on node pool '{rejection.pool or '-'}': {rejection.reason}")
        if rejections:
            return None, None
        return ProfileDecision(key, chosen.pin, chosen, None, f"manual {key} {wanted}"), explicit_gpus or chosen.gpus

    @staticmethod
    def nim_pool(pool: NodePool) -> Pool:
        memory = quantities.gigabytes(pool.memory) if pool.memory else None
        return Pool(pool.name, pool.product, pool.per_node, memory, pool.device)

    def compute(self, compute_spec: dict[str, tuple[Any, str]], gpus: int | None) -> Compute | None:
        values = {k: v for k, (v, _) in compute_spec.items()}
        for field_name in ("cpu", "memory"):
            if field_name not in values and not self.template_failed:
                self.error(("spec", "compute"), f"compute needs {field_name}: set it or use a template that does",
                           "NIM needs explicit requests; KServe's webhook would otherwise inject 1 CPU / 2Gi", key=True)
        if gpus is None or "cpu" not in values or "memory" not in values:
            return None
        mig = values.get("migProfile")
        resource = f"nvidia.com/mig-{mig}" if mig else "nvidia.com/gpu"
        shm_default = "16Gi" if gpus > 1 else "2Gi"
        shared = values.get("sharedMemory")
        if shared is None:
            self.record("spec.compute.sharedMemory", shm_default, "default (16Gi for multi-GPU, else 2Gi)")
            shared = shm_default
        if quantities.parse(shared) >= quantities.parse(values["memory"]):
            self.error(("spec", "compute", "sharedMemory") if "sharedMemory" in values else ("spec", "compute"),
                       f"sharedMemory ({shared}) must be less than memory ({values['memory']})",
                       "a memory-backed /dev/shm counts against the container's memory limit")
        self.record("spec.compute.gpus (resolved)", gpus, "profile" if "gpus" not in values else "compute")
        return Compute(gpus=gpus, gpu_resource=resource, gpu_product=values.get("gpuProduct"),
                       cpu=quantities.canonical(values["cpu"]), memory=quantities.canonical(values["memory"]),
                       shared_memory=quantities.canonical(shared))

    # -- store
    def store(self, scaling: Scaling) -> Store:
        store = self.spec["store"]
        if "ngc" in store:
            ngc = store["ngc"]
            self.value(("spec", "store", "ngc", "secret"))
            cache = None
            if "cache" in ngc:
                cache = self.cache(ngc["cache"], scaling)
            return Store("ngc", secret=ngc["secret"], secret_key=ngc.get("secretKey", "NGC_API_KEY"), cache=cache)
        if "pvc" in store:
            pvc = store["pvc"]
            self.value(("spec", "store", "pvc", "claim"))
            path = self.value(("spec", "store", "pvc", "path"))
            return Store("pvc", claim=pvc["claim"], sub_path=path.strip("/") or None if path else None)
        uri = self.value(("spec", "store", "uri"))
        return Store("uri", uri=uri)

    def cache(self, cache: dict, scaling: Scaling) -> CacheVolume | None:
        name = self.value(("spec", "store", "ngc", "cache", "dataSource"))
        warmup = bool(self.value(("spec", "store", "ngc", "cache", "warmup"), False))
        source = self.gallery.datasources.get(name)
        path = ("spec", "store", "ngc", "cache", "dataSource")
        if source is None:
            if ("DataSource", name) in self.gallery.invalid:
                return None
            self.error(path, f"unknown data source '{name}'", _suggest(name, list(self.gallery.datasources)))
            return None
        spec = source.data["spec"]
        if "existingClaim" in spec:
            return CacheVolume(spec["existingClaim"], False, name, warmup=warmup)
        pvc = spec["pvc"]
        shared = scaling.max_replicas > 1
        mode = pvc.get("accessMode") or ("ReadWriteMany" if shared else "ReadWriteOnce")
        if shared and mode != "ReadWriteMany":
            self.error(path, f"data source '{name}' is {mode}, but up to {scaling.max_replicas} replicas share the cache",
                       "replicas on different nodes need ReadWriteMany: drop accessMode or use an RWX data source")
        storage_class = pvc.get("storageClass") or (
            self.env.storage_shared_class if mode == "ReadWriteMany" else self.env.storage_default_class)
        self.record("cache.pvc", {"size": quantities.canonical(pvc["size"]), "accessMode": mode, "storageClass": storage_class},
                    f"data source {name} ({source.file})")
        return CacheVolume(f"{self.name}-nim-cache", True, name, quantities.canonical(pvc["size"]), storage_class, mode, warmup)

    def pull_secrets(self, image: str) -> tuple[str, ...]:
        ngc = self.spec["store"].get("ngc", {})
        if "pullSecret" in ngc:
            return (ngc["pullSecret"],)
        if image.startswith("nvcr.io/"):
            return (DEFAULT_PULL_SECRET,)
        return ()

    # -- access
    def access(self) -> Access:
        access = self.spec.get("access")
        if access is None:
            self.record("spec.access.type", "clusterLocal", "default (no route from outside the cluster)")
            return Access("clusterLocal")
        kind = self.value(("spec", "access", "type"))
        if kind == "public" and not self.env.allow_public_endpoints:
            self.error(("spec", "access", "type"), f"environment {self.env.name} does not allow public endpoints",
                       "use authenticated, groups or users, or set policy.allowPublicEndpoints in the environment")
        if kind in ("authenticated", "groups", "users") and self.env.identity is None:
            self.error(("spec", "access", "type"), f"access '{kind}' needs spec.identity in environment {self.env.name}",
                       "declare the identity provider's issuer and jwksUri there")
        return Access(kind, tuple(access.get("groups", ())), tuple(access.get("users", ())))

    # -- scaling
    def scaling(self) -> Scaling:
        spec = self.spec.get("scaling", {})
        low = self.value(("spec", "scaling", "minReplicas"), 1)
        high = self.value(("spec", "scaling", "maxReplicas"), max(low, 1))
        backend = self.env.autoscaling_backend
        if high < low:
            file, line, _ = self.doc.where(("spec", "scaling", "minReplicas"))
            self.error(("spec", "scaling", "maxReplicas"), f"must be >= minReplicas ({low})",
                       f"minReplicas is set at {file}:{line}")
            return Scaling(low, high, "none")
        zero = spec.get("scaleToZero")
        if low == 0 and zero is None:
            self.error(("spec", "scaling", "minReplicas"), "minReplicas 0 needs scaleToZero: {afterSeconds: N}",
                       "say how long an idle endpoint is kept before it scales to zero")
        if zero is not None and low != 0:
            self.error(("spec", "scaling", "scaleToZero"), f"scaleToZero needs minReplicas 0, found {low}")
        if zero is not None and backend == "hpa":
            self.error(("spec", "scaling", "scaleToZero"), f"environment {self.env.name} scales with hpa, which cannot scale to zero",
                       "use autoscaling.backend keda (or knative) in the environment")
        if high == low and low > 0:
            return Scaling(low, high, "none")
        metric = self.value(("spec", "scaling", "metric"))
        target = self.value(("spec", "scaling", "target"))
        if metric is None or target is None:
            self.error(("spec", "scaling"), f"autoscaling between {low} and {high} replicas needs metric and target",
                       "e.g. {metric: concurrency, target: 8}", key=True)
            return Scaling(low, high, backend)
        source = self.env.metric(metric)
        if backend != "knative" and source is None:
            self.error(("spec", "scaling", "metric"), f"environment {self.env.name} does not say how to measure '{metric}'",
                       "add it under spec.autoscaling.metrics in environment.yaml")
            return Scaling(low, high, backend, metric, target)
        if backend == "hpa" and source and not source.pods_metric:
            self.error(("spec", "scaling", "metric"), f"metric '{metric}' has only a PromQL query, which an HPA cannot read",
                       "give it a podsMetric (served by the Prometheus adapter) or use the keda backend")
        if backend == "keda" and source and not source.query:
            self.error(("spec", "scaling", "metric"), f"metric '{metric}' has no PromQL query for KEDA",
                       "add a query under spec.autoscaling.metrics in environment.yaml")
        query = None
        if source and source.query:
            query = source.query.replace("{namespace}", self.project.namespace).replace("{name}", self.name)
        return Scaling(low, high, backend, metric, float(target), source.pods_metric if source else None, query,
                       self.env.prometheus_address, zero["afterSeconds"] if zero else None)

    # -- placement
    def placement(self, pools: list[NodePool], compute: Compute | None) -> Placement:
        scheduling = self.spec.get("scheduling", {})
        names = tuple(p.name for p in pools)
        required: list[tuple[str, str, tuple[str, ...]]] = []
        preferred: list[tuple[int, tuple]] = []
        if names:  # GPU pods go only to the environment's declared pools
            required.append((self.env.node_pool_label, "In", tuple(sorted(names))))
        if len(names) > 1:
            # priority order as descending weights: the scheduler tries the first pool first
            for i, name in enumerate(names):
                preferred.append((max(100 - 10 * i, 1), ((self.env.node_pool_label, "In", (name,)),)))
        if compute and compute.gpu_product:
            required.append(("nvidia.com/gpu.product", "In", (compute.gpu_product,)))
        node_type = self.value(("spec", "scheduling", "nodeType"))
        if node_type:
            required.append((self.env.node_type_label, "In", (node_type,)))
        affinity = scheduling.get("nodeAffinity", {})
        for expr in affinity.get("required", ()):
            required.append((expr["key"], expr["operator"], tuple(expr.get("values", ()))))
        for term in affinity.get("preferred", ()):
            preferred.append((term["weight"], tuple((e["key"], e["operator"], tuple(e.get("values", ())))
                                                    for e in term["matchExpressions"])))
        tolerations = [Toleration(t.get("key"), t.get("operator", "Equal"), t.get("value"), t.get("effect"),
                                  t.get("tolerationSeconds")) for t in scheduling.get("tolerations", ())]
        if self.env.auto_tolerate_taints:
            for pool in pools:
                for taint in pool.taints:
                    toleration = Toleration(taint.key, "Equal" if taint.value is not None else "Exists", taint.value, taint.effect)
                    if not any(self.tolerates(t, taint) for t in tolerations):
                        tolerations.append(toleration)
                        self.record("spec.scheduling.tolerations (added)", f"{taint.key}={taint.value or ''}:{taint.effect}",
                                    f"taint of node pool {pool.name} (policy.autoTolerateTaints)")
        kai = self.env.scheduler == "kai"
        return Placement(names, tuple(required), tuple(preferred), tuple(tolerations),
                         KAI_SCHEDULER if kai else None, self.project.name if kai else None, self.env.priority_class)

    @staticmethod
    def tolerates(t: Toleration, taint: Taint) -> bool:
        if t.effect and t.effect != taint.effect:
            return False
        if t.key is None and t.operator == "Exists":
            return True
        if t.key != taint.key:
            return False
        return t.operator == "Exists" or t.value == taint.value


# --------------------------------------------------------------------------------------------- the environment


def resolve(env_name: str, env_doc: Document, project_docs: list[Document], workload_docs: list[Document],
            gallery: Gallery) -> tuple[ResolvedEnvironment | None, list[Diagnostic]]:
    env = resolve_environment_spec(env_doc, env_name)
    problems = environment_problems(env_doc, env)

    projects: dict[str, Project] = {}
    namespaces: dict[str, str] = {}
    for doc in project_docs:
        project = resolve_project(doc, env)
        if project.name in projects:
            problems.append(doc.diagnostic(("metadata", "name"), f"duplicate project '{project.name}'",
                                           f"already defined in {projects[project.name].sources[-1]}"))
            continue
        if project.namespace in namespaces:
            problems.append(doc.diagnostic(("spec", "namespace"), f"namespace '{project.namespace}' is already used by project "
                                           f"'{namespaces[project.namespace]}'"))
        projects[project.name] = project
        namespaces[project.namespace] = project.name

    workloads: list[Workload] = []
    seen: dict[tuple[str, str], Document] = {}
    for doc in workload_docs:
        meta = doc.data["metadata"]
        project = projects.get(meta["project"])
        if project is None:
            if ("Project", meta["project"]) in gallery.invalid:
                continue  # the project file's own errors are reported
            problems.append(doc.diagnostic(("metadata", "project"), f"unknown project '{meta['project']}' in environment {env_name}",
                                           _suggest(meta["project"], list(projects))))
            continue
        key = (project.name, meta["name"])
        if key in seen:
            first = seen[key].where(("metadata", "name"))
            problems.append(doc.diagnostic(("metadata", "name"), f"duplicate workload name '{meta['name']}' in project {project.name}",
                                           f"first defined at {first[0]}:{first[1]}"))
            continue
        seen[key] = doc
        resolver = WorkloadResolver(doc, env, project, gallery)
        workload = resolver.resolve()
        problems.extend(resolver.problems)
        if workload is not None:
            workloads.append(workload)

    problems.extend(quota_problems(projects, workloads, seen))
    if any(p.severity == "error" for p in problems):
        return None, problems
    ordered = tuple(sorted(workloads, key=lambda w: (w.project.name, w.name)))
    return ResolvedEnvironment(env, tuple(projects[k] for k in sorted(projects)), ordered), problems


def quota_problems(projects: dict[str, Project], workloads: list[Workload],
                   docs: dict[tuple[str, str], Document]) -> list[Diagnostic]:
    """Guaranteed replicas must fit the project's GPU quota; the workload count its limit."""
    problems = []
    for project in projects.values():
        mine = [w for w in workloads if w.project.name == project.name]
        guaranteed = sum(w.scaling.min_replicas * w.compute.gpus for w in mine if w.compute.gpu_resource == "nvidia.com/gpu")
        peak = sum(w.scaling.max_replicas * w.compute.gpus for w in mine if w.compute.gpu_resource == "nvidia.com/gpu")
        if not mine:
            continue
        last = docs[(project.name, mine[-1].name)]
        if guaranteed > project.quota_gpus:
            problems.append(last.diagnostic(("spec", "scaling", "minReplicas"),
                                            f"project {project.name} needs {guaranteed} GPUs at minReplicas, its quota is {project.quota_gpus}",
                                            "raise spec.quota.gpus of the project or lower minReplicas"))
        ceiling = project.gpu_limit if project.gpu_limit not in (None, -1) else project.quota_gpus
        if project.gpu_limit != -1 and peak > ceiling:
            problems.append(last.diagnostic(("spec", "scaling", "maxReplicas"),
                                            f"project {project.name} may reach {peak} GPUs at maxReplicas, above its limit of {ceiling}; "
                                            "replicas beyond it will stay pending", severity=WARNING))
        if project.quota_workloads is not None and len(mine) > project.quota_workloads:
            problems.append(last.diagnostic(("metadata", "name"),
                                            f"project {project.name} allows {project.quota_workloads} workloads, found {len(mine)}"))
    return problems
