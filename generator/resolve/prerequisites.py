"""What the cluster must run for one environment's output to work, decided from the resolved model: the
controllers and CRDs each feature relies on, and the Secrets, claims, accounts and labels it refers to.
out/<env>/README.md lists them; docs/CLUSTER.md explains each."""

from __future__ import annotations

from typing import Iterable, assert_never

from ..model import (Ambient, CacheClaim, ConfigMapKeyRef, SecretKeyRef, GpuFraction, GpuMemory, ClusterLocal, DefaultScheduler, DeploymentMode, Environment, ExistingClaim, Hpa,
                     Jwt, KaiScheduler, Keda, KedaHttp, Knative, LoraFromClaim, LoraFromUri, MeshedPrometheus, Ngc, PlainTextPrometheus, Prerequisite,
                     Project, Pvc, ServiceTarget, Uri, WakeByKedaHttp,
                     Workload)
from . import kai, nim
from .storage import HF_TOKEN, NGC_KEY

# the store's own Secrets, listed apart
STORE_SECRETS = (NGC_KEY, HF_TOKEN)
from .mesh import NATIVE_SIDECAR


def _names(values: Iterable[str]) -> str:
    return ", ".join(f"`{v}`" for v in sorted(set(values)))


def gateway_described(env: Environment) -> str:
    gateway = env.gateway
    pods = ", ".join(f"{k}={v}" for k, v in gateway.pod_labels)
    return f"`{gateway.namespace}`" + (f" (its pods labelled `{pods}`)" if pods else "")


def exposures(env: Environment, workloads: tuple[Workload, ...]) -> tuple[str, ...]:
    """What the output leaves open that a reader would not expect from the access levels alone."""
    found = []
    guarded = sorted(w.name for w in workloads if isinstance(w.access, Jwt) and isinstance(w.access.binding, ServiceTarget))
    if guarded and isinstance(env.scraper, PlainTextPrometheus):
        found.append(f"Prometheus scrapes from outside the ambient mesh, without an identity: ztunnel admits any caller "
                     f"to port {nim.PORT} of {', '.join(f'`{n}`' for n in guarded)}, which serves the whole API, not "
                     "only /v1/metrics; tokens are checked only on requests through the waypoint")
    return tuple(found)


def prerequisites(env: Environment, projects: tuple[Project, ...], workloads: tuple[Workload, ...]) -> tuple[Prerequisite, ...]:
    found: list[Prerequisite] = []

    def need(feature: str, needs: str) -> None:
        found.append(Prerequisite(feature, needs))

    modes = {w.service.mode for w in workloads}
    need("serving", f"KServe {env.kserve.version} (its controller, webhook and CRDs) serving "
                    f"{_names(env.kserve.spelled(m) for m in modes)} InferenceServices; a CNI that enforces NetworkPolicy")
    need("metrics", "prometheus-operator's PodMonitor CRD, and a Prometheus whose podMonitorSelector matches "
                    + (_names(f"{k}={v}" for k, v in env.scrape_labels) if env.scrape_labels else "every PodMonitor")
                    + f" in the workloads' namespaces; it runs in namespace `{env.monitoring_namespace}`")
    need("nodes", f"the GPU operator (nvidia.com/gpu.product labels, the NVIDIA device plugin) and the node label "
                  f"`{env.node_pool_label}` naming each node's pool: {_names(p.name for p in env.node_pools)}")
    if any(p.mig_profiles for p in env.node_pools):
        need("nodes", "MIG pools with the device plugin's mixed strategy (nvidia.com/mig-<profile> resources)")
    classes = {c for c in (w.service.placement.priority_class for w in workloads) if c}
    if env.default_priority is not None:
        classes.add(env.default_priority.class_name)
    named = f"the PriorityClass{'es' if len(classes) > 1 else ''} {_names(classes)}" if classes else ""
    match env.scheduler:
        case KaiScheduler(scheduler_name):
            need("scheduling", f"the KAI scheduler {kai.MIN_VERSION} or later (scheduling.run.ai Queue CRD, "
                               f"scheduler {scheduler_name}) and {named}")
            if any(isinstance(w.compute.gpu, (GpuFraction, GpuMemory)) for w in workloads):
                need("GPU shares", "KAI's GPU sharing enabled (Helm value global.gpuSharing=true; its reservation pods "
                                   "run in namespace kai-resource-reservation) and the node label nvidia.com/gpu.memory "
                                   "(GPU Feature Discovery) on the pools' nodes")
        case DefaultScheduler():
            if named:
                need("scheduling", named)
        case _:
            assert_never(env.scheduler)
    if any(isinstance(w.access, Jwt) for w in workloads) or any(p.waypoint for p in projects):
        if isinstance(env.mesh, Ambient):
            need("token access", "Istio in ambient mode (istio-cni, ztunnel, waypoints; the Gateway API CRDs) with "
                                 "ingress waypoint routing enabled in istiod (ENABLE_INGRESS_WAYPOINT_ROUTING); trust "
                                 f"domain `{env.mesh.trust_domain}`")
            match env.scraper:
                case MeshedPrometheus(service_account=account):
                    who = f"as service account `{account}`" if account else "(any identity of its namespace)"
                    need("metrics", f"Prometheus enrolled in the ambient mesh (namespace `{env.monitoring_namespace}` "
                                    f"labelled istio.io/dataplane-mode=ambient), scraping {who}: ztunnel admits only "
                                    "that identity to token workloads' pods besides their waypoint")
                case PlainTextPrometheus():
                    pass                 # no prerequisite: an exposure, which exposures() states
                case _:
                    assert_never(env.scraper)
        else:
            revision = f" revision `{env.mesh.revision}`" if env.mesh.revision else ""
            cni = " with its CNI agent" if env.mesh.cni else ""
            need("token access", f"Istio{revision}{cni} injecting sidecars into labelled namespaces; its ingress gateway "
                                 f"in {gateway_described(env)}")
        if env.identity is not None:
            need("token access", f"the identity provider {env.identity.issuer}, its keys at {env.identity.jwks_uri} "
                                 "reachable from istiod")
    if any(NATIVE_SIDECAR in w.service.pod_annotations for w in workloads):
        need("token access", "native sidecars (Kubernetes 1.29 or later) for pods whose storage initializer downloads "
                             "through the mesh")
    if any(not isinstance(w.access, ClusterLocal) for w in workloads):
        need("exposed endpoints", f"KServe's ingress (Gateway API or Istio) through the gateway in {gateway_described(env)}; the "
             "workloads' NetworkPolicies admit only those pods")
    if DeploymentMode.KNATIVE in modes:
        need("knative", f"Knative Serving in `{env.knative_namespace}` with the features kubernetes.podspec-affinity, "
                        "-tolerations, -securitycontext, -emptydir, -persistent-volume-claim (and -write), "
                        "-schedulername, -priorityclassname and -topologyspreadconstraints as the workloads use them"
                        + ("; its namespace in the mesh (the activator talks mTLS to meshed pods)"
                           if any(isinstance(w.access, Jwt) for w in workloads) else ""))
    if any(isinstance(w.scaling, Hpa) for w in workloads):
        need("autoscaling", "the Prometheus adapter serving the per-pod metrics "
                            + _names(w.scaling.pods_metric for w in workloads if isinstance(w.scaling, Hpa))
                            + " (from series labelled namespace and pod)")
    if any(isinstance(w.scaling, (Keda, KedaHttp)) for w in workloads):
        # ScaledObject fallback.behavior exists from KEDA 2.17 (kedacore/keda CHANGELOG, CheckFallbackValid);
        # research/issue15-kserve-keda-facts.md
        fallback = any(isinstance(w.scaling, Keda) and w.scaling.fallback_replicas is not None for w in workloads)
        need("autoscaling", ("KEDA 2.17 or later (keda.sh CRDs; a fallback's behavior)" if fallback else "KEDA 2.x (keda.sh CRDs)")
             + (f", querying Prometheus at {env.prometheus_address}" if any(isinstance(w.scaling, Keda) for w in workloads)
                else ""))
    wakes = [w.scaling.wake.address for w in workloads if isinstance(w.scaling, KedaHttp)]
    if wakes and isinstance(env.scale_from_zero, WakeByKedaHttp):
        # HTTPScaledObject's scalingMetric exists from add-on 0.8.0, timeouts.conditionWait/responseHeader from
        # 0.11.0 (kedacore/http-add-on CHANGELOG.md and config/crd at those tags)
        need("scale from zero", f"the KEDA HTTP add-on 0.11 or later (http.keda.sh CRDs), its interceptor in "
                                f"`{env.scale_from_zero.interceptor_namespace}`; callers reach these workloads at "
                                f"{_names(wakes)}")
    timeouts = {w.service.request_timeout_seconds for w in workloads} - {None}
    if timeouts:
        need("scale from zero", f"Knative's activator holds a waking request while a scaled-to-zero revision starts, "
                                f"up to the revision's timeout of {max(t for t in timeouts if t is not None)}s: "
                                "config-defaults max-revision-timeout-seconds at least that (Knative's default is 600)")
    keys = {f"{w.namespace}/{w.store.key.name}" for w in workloads if isinstance(w.store, Ngc) and w.store.key}
    if keys:
        need("secrets", "Secrets holding the NGC API key: " + _names(keys))
    pulls = {f"{w.namespace}/{s}" for w in workloads for s in w.service.pull_secrets}
    if pulls:
        registry = f"the mirror {env.images.mirror}" if env.images.mirror else "nvcr.io"
        need("secrets", f"image pull Secrets for {registry}: {_names(pulls)}")
    read = {f"{'Secret' if isinstance(v.value, SecretKeyRef) else 'ConfigMap'} `{w.namespace}/{v.value.name}` "
            f"(key {v.value.key})" for w in workloads for v in w.service.container.env
            if isinstance(v.value, (SecretKeyRef, ConfigMapKeyRef)) and v.name not in STORE_SECRETS}
    if read:
        need("secrets", "what the workloads' env reads: " + ", ".join(sorted(read)))
    tokens = {f"{w.namespace}/{w.store.token_secret}" for w in workloads if isinstance(w.store, Uri) and w.store.token_secret}
    if tokens:
        need("secrets", f"Secrets with key HF_TOKEN: {_names(tokens)}")
    accounts = {f"{w.namespace}/{w.service.service_account}" for w in workloads if w.service.service_account}
    if accounts:
        need("storage", f"ServiceAccounts whose secrets hold the object store's credentials: {_names(accounts)}")
    claims = {f"{w.namespace}/{w.store.claim}" for w in workloads if isinstance(w.store, Pvc)}
    claims |= {f"{w.namespace}/{w.store.cache.name}" for w in workloads
               if isinstance(w.store, Ngc) and isinstance(w.store.cache, ExistingClaim) and w.store.key is not None}
    if claims:
        need("storage", f"pre-staged PersistentVolumeClaims: {_names(claims)}")
    offline = {f"{w.namespace}/{w.store.cache.name}" for w in workloads
               if isinstance(w.store, Ngc) and isinstance(w.store.cache, ExistingClaim) and w.store.key is None}
    if offline:
        need("air gap", f"claims that already hold the pinned profile's files (download-to-cache --profile <id>, run "
                        f"where NGC is reachable): {_names(offline)}; NIM gets no NGC key, NIM's documented air-gap mode, and "
                        "serves only what they hold (NIM 1.x documents no other switch that keeps it off NGC)")
    adapters = {f"{w.namespace}/{w.lora.source.claim}" for w in workloads
                if w.lora is not None and isinstance(w.lora.source, LoraFromClaim)}
    if adapters:
        need("LoRA", f"claims holding one folder per adapter (its name is the served model's): {_names(adapters)}")
    if env.images.mirror:
        need("images", f"the registry {env.images.mirror} mirroring nvcr.io/nim (same repositories, tags and digests)")
    bundles = {f"{w.namespace}/{w.network.ca_bundle.config_map}" for w in workloads if w.network.ca_bundle}
    if bundles:
        need("network", f"ConfigMaps with the whole CA bundle (the public roots and the proxy's or store's CA; it "
                        f"replaces the image's trust store): {_names(bundles)}")
    proxied = [w for w in workloads if w.network.proxy]
    if proxied:
        need("network", "the proxy lets NGC through (authn.nvidia.com, api.ngc.nvidia.com, xfiles.ngc.nvidia.com) "
                        "and the object stores the workloads download from")
    initialized = sorted(w.name for w in workloads if (w.network.proxy or w.network.ca_bundle)
                         and (isinstance(w.store, Uri) or (w.lora is not None and isinstance(w.lora.source, LoraFromUri))))
    if initialized:
        # KServe 0.20 offers no per-InferenceService env or CA for its storage initializer: a user init container
        # of that name switches injection off (storage_initializer_injector.go); research/issue15-kserve-keda-facts.md
        need("network", "KServe's storage initializer downloads for " + _names(initialized) + " with cluster-wide "
                        "settings only: a ClusterStorageContainer whose container env sets the proxy, and "
                        "storageInitializer.caBundleConfigMapName in inferenceservice-config for the CA bundle (for "
                        "s3:// also the annotation serving.kserve.io/s3-cabundle-configmap on the ServiceAccount's "
                        "S3 Secret, read in the workload's namespace)")
    classes = {w.store.cache.storage_class for w in workloads if isinstance(w.store, Ngc)
               and isinstance(w.store.cache, CacheClaim) and w.store.cache.storage_class}
    if classes:
        need("storage", f"StorageClasses {_names(classes)}")
    warmups = [w for w in workloads if isinstance(w.store, Ngc) and w.store.warmup]
    if warmups:
        need("warm-up", "an applier that finishes prepare/ before serve/ (see Applying): the warm-up Jobs download "
                        "into their claims before the servers start")
    return tuple(found)
