"""Storage: where the model comes from (NGC with a cache, a pre-staged claim, object storage) and what that
means for the NIM container (environment, volumes, mounts) and for the objects nimgen renders beside it."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from typing import Any

from ..model import (CacheClaim, DeploymentMode, ClaimVolume, Container, EmptyDirVolume, EnvVar, ExistingClaim, Labels, Meta, Mount, Ngc,
                     Pvc, Resources, SecretKeyRef, Store, StorageUri, Uri, Volume, WarmupJob)
from ..quantities import canonical
from . import naming, nim
from .context import WorkloadContext, suggest

CACHE_VOLUME = "nim-cache"
NGC_KEY = "NGC_API_KEY"
# download-to-cache is network- and disk-bound: a little CPU, memory for unpacking
WARMUP_RESOURCES = Resources(requests=(("cpu", "1"), ("memory", "4Gi")), limits=(("cpu", "2"), ("memory", "8Gi")))
WARMUP_BACKOFF_LIMIT = 3
# The warm-up must finish before the server starts, and run again only when what it caches changes. Under
# Argo CD it is a plain Sync-phase Job (a hook would run on every sync: a 10-40 GB pull each time) in a sync wave
# before the InferenceService's (wave 0); Argo CD starts a wave only when the one before it is healthy, and a Job
# is healthy once complete (argo-cd docs/user-guide/sync-waves.md; gitops-engine pkg/health/health_job.go). Its
# claim is in the same wave: a WaitForFirstConsumer claim stays Pending, which Argo CD counts as progressing,
# until the Job's pod mounts it (health_pvc.go; argo-cd#12840). A Namespace moves to the wave of the first
# object in it. No ttlSecondsAfterFinished: Argo CD would see the Job missing and create it again. Its name
# carries a hash of what it downloads: a change is a new Job, never a patch of an immutable one. Flux and kubectl
# read no waves: these objects are written to out/<env>/prepare/, applied (and waited for) before serve/.
PREPARE_WAVE = (("argocd.argoproj.io/sync-wave", "-1"),)
# A generous bound on the download (three times its size at the assumed rate), and never under an hour.
WARMUP_DEADLINE_FLOOR_SECONDS = 3600
# The Job's pod must finish: an injected Istio sidecar (classic) would keep it running forever.
NO_SIDECAR = ("sidecar.istio.io/inject", "false")
HF_TOKEN = "HF_TOKEN"
# KServe mounts the credentials of this Secret into its storage initializer (hf://: key HF_TOKEN), ahead of the
# service account's secrets (kserve pkg/credentials: storageSecretNameAnnotation).
STORAGE_SECRET_ANNOTATION = "serving.kserve.io/storageSecretName"
# KServe mounts the storage initializer's download into the serving container read-only unless this annotation
# says "false" (KServe docs, inferenceservice-config "Mount PVC Volume with Read-Write": per-service key
# storage.kserve.io/readonly, default true). NIM_CACHE_PATH points there, and NIM writes into its cache whatever
# the download lacks (a profile's files, engines it builds): the cache must be writable when NIM downloads into
# it. A pvc store stays read-only: it is pre-staged whole, so NIM reads it and never writes.
STORAGE_READ_WRITE = ("storage.kserve.io/readonly", "false")


@dataclass(frozen=True)
class StorageDecision:
    store: Store
    env: tuple[EnvVar, ...]              # after NIM_MODEL_PROFILE, in this order
    volumes: tuple[Volume, ...]
    mounts: tuple[Mount, ...]
    storage_uris: tuple[StorageUri, ...]
    service_account: str | None = None
    annotations: Labels = ()             # on the InferenceService (KServe copies them to the predictor pod)


@dataclass(frozen=True)
class Mounters:
    """How many pods of a workload may mount its cache at once: its replicas, and a rollout's new ones."""

    max_replicas: int
    surge: int

    @property
    def pods(self) -> int:
        return self.max_replicas + self.surge

    def described(self) -> str:
        return f"{self.max_replicas} replicas" + (f" and {self.surge} more during a rollout" if self.surge else "")


def uses_storage_initializer(spec: dict[str, Any]) -> bool:
    """KServe's storage initializer downloads a uri store before the server starts (an init container)."""
    return "uri" in spec["store"]


def pull_secret(spec: dict[str, Any]) -> str | None:
    """The image pull Secret an NGC store names (the default for nvcr.io images is nim.pull_secrets')."""
    secret = spec["store"].get("ngc", {}).get("pullSecret")
    return secret if isinstance(secret, str) else None


@dataclass(frozen=True)
class Outbound:
    """What the warm-up gets besides the store's own: the proxy and CA variables and the CA bundle's volume, and
    the user's variables (the server's, so both download alike)."""

    env: tuple[EnvVar, ...]
    volumes: tuple[Volume, ...]
    mounts: tuple[Mount, ...]


def resolve_storage(ctx: WorkloadContext, mode: DeploymentMode, mounters: Mounters, image: str, pin: str,
                    download_bytes: int | None, labels: Labels, pull_secrets: tuple[str, ...],
                    read_only_root: bool, outbound: Outbound) -> StorageDecision | None:
    store = ctx.spec["store"]
    if "ngc" in store:
        return _ngc(ctx, store["ngc"], mounters, image, pin, download_bytes, labels, pull_secrets, read_only_root,
                    outbound)
    if "pvc" in store:
        claim = ctx.value(("spec", "store", "pvc", "claim"))
        path = ctx.value(("spec", "store", "pvc", "path"))
        sub_path = path.strip("/") or None if path else None
        return StorageDecision(
            Pvc(claim, sub_path), env=(EnvVar("NIM_CACHE_PATH", nim.CACHE_PATH),),
            volumes=(ClaimVolume(CACHE_VOLUME, claim, read_only=True),),
            mounts=(Mount(CACHE_VOLUME, nim.CACHE_PATH, read_only=True, sub_path=sub_path),), storage_uris=())
    return _uri(ctx, store["uri"], mode)


def _uri(ctx: WorkloadContext, given: str | dict[str, Any], mode: DeploymentMode) -> StorageDecision:
    base = ("spec", "store", "uri") if isinstance(given, str) else ("spec", "store", "uri", "url")
    uri = ctx.value(base)
    account = ctx.value(("spec", "store", "uri", "serviceAccount")) if isinstance(given, dict) else None
    token = ctx.value(("spec", "store", "uri", "tokenSecret")) if isinstance(given, dict) else None
    env = [EnvVar("NIM_CACHE_PATH", nim.URI_MOUNT)]
    annotations: Labels = (STORAGE_READ_WRITE,)
    if uri.startswith("hf://"):
        env.append(EnvVar("NIM_MODEL_NAME", nim.URI_MOUNT))
    if token is not None:
        if not uri.startswith("hf://"):
            ctx.error(("spec", "store", "uri", "tokenSecret"), f"a token Secret is for hf:// URIs, not {uri.split('://')[0]}://",
                      "object stores take their credentials from the serviceAccount's secrets")
        env.append(EnvVar(HF_TOKEN, SecretKeyRef(token, HF_TOKEN)))
        annotations += ((STORAGE_SECRET_ANNOTATION, token),)
    # storageUris (with a mount path) exists from KServe 0.16; before it, the storage initializer reads STORAGE_URI.
    # With storageUris KServe writes its storage initializer into the Knative Service, which Knative refuses
    # unless the cluster enables kubernetes.podspec-init-containers (off by default); from STORAGE_URI KServe's
    # pod webhook injects it as each pod is created, after Knative's validation: what Knative mode uses.
    modern = ctx.env.kserve.storage_uris and mode is DeploymentMode.STANDARD
    if not modern:
        env.append(EnvVar("STORAGE_URI", uri))
    return StorageDecision(Uri(uri, account, token), env=tuple(env), volumes=(), mounts=(),
                           storage_uris=(StorageUri(uri, nim.URI_MOUNT),) if modern else (),
                           service_account=account, annotations=annotations)


NGC_STORE = ("spec", "store", "ngc")


def _ngc(ctx: WorkloadContext, ngc: dict[str, Any], mounters: Mounters, image: str, pin: str,
         download_bytes: int | None, labels: Labels, pull_secrets: tuple[str, ...],
         read_only_root: bool, outbound: Outbound) -> StorageDecision | None:
    secret = ctx.value(NGC_STORE + ("secret",))
    # Without a key NIM serves what its cache holds and never authenticates to NGC: NIM's documented air-gap
    # mode ("do not provide the NGC_API_KEY"; NIM for LLMs, Air Gap Deployment), the reason the NIM operator
    # made its authSecret optional (k8s-nim-operator#887, #910). The schema allows it for a prefilled cache only.
    key = SecretKeyRef(secret, ngc.get("secretKey", NGC_KEY)) if secret else None
    if key is None and "secretKey" in ngc:
        ctx.error(NGC_STORE + ("secretKey",), "secretKey names a key of store.ngc.secret, which is not set",
                  "drop secretKey, or name the Secret in secret")
    env = (EnvVar("NIM_CACHE_PATH", nim.CACHE_PATH),) + ((EnvVar(NGC_KEY, key),) if key else ())
    cache, data_source, warmup = None, None, None
    if "cache" in ngc:
        data_source = ctx.value(NGC_STORE + ("cache", "dataSource"))
        cache = _cache_claim(ctx, data_source, mounters)
        if cache is None:
            return None
        wants_warmup = ctx.value(NGC_STORE + ("cache", "warmup"), False)
        if ctx.value(NGC_STORE + ("cache", "prefilled"), False):
            if isinstance(cache, CacheClaim):
                ctx.error(NGC_STORE + ("cache", "prefilled"), f"data source '{data_source}' is a claim nimgen creates, "
                          "which starts empty: nothing has filled it",
                          "a prefilled cache is an existing claim (a DataSource with existingClaim) that already "
                          "holds the profile's files; or drop prefilled and warm the cache up")
            if wants_warmup:
                ctx.error(NGC_STORE + ("cache", "warmup"), "a prefilled cache needs no warm-up",
                          "drop warmup (a warm-up downloads from NGC) or prefilled")
        if wants_warmup and key is None:
            ctx.error(NGC_STORE + ("cache", "warmup"), "the warm-up downloads from NGC and needs an NGC key",
                      "name the Secret holding NGC_API_KEY in store.ngc.secret")
            wants_warmup = False
        if wants_warmup:
            digest = hashlib.sha256(f"{image}\n{pin}\n{cache.name}".encode()).hexdigest()
            scratch_volumes, scratch_mounts = nim.scratch(read_only_root)
            if isinstance(cache, CacheClaim):
                cache = replace(cache, meta=replace(cache.meta, annotations=cache.meta.annotations + PREPARE_WAVE))
            warmup = WarmupJob(
                Meta(naming.warmup_job(ctx.name, digest), annotations=PREPARE_WAVE), backoff_limit=WARMUP_BACKOFF_LIMIT,
                active_deadline_seconds=warmup_deadline(download_bytes),
                pod_labels=naming.pod_labels(labels) + (NO_SIDECAR,),
                restart_policy="OnFailure", pod_security=nim.POD_SECURITY, service_account_token=False,
                container=Container("download-to-cache", image, env=env + outbound.env, resources=WARMUP_RESOURCES,
                                    security=nim.container_security(read_only_root),
                                    mounts=(Mount(CACHE_VOLUME, nim.CACHE_PATH),) + scratch_mounts + outbound.mounts,
                                    command=("download-to-cache", "--profile", pin)),
                volumes=(ClaimVolume(CACHE_VOLUME, cache.name),) + scratch_volumes + outbound.volumes,
                pull_secrets=pull_secrets)
    volume = ClaimVolume(CACHE_VOLUME, cache.name) if cache else EmptyDirVolume(CACHE_VOLUME)
    return StorageDecision(Ngc(key, data_source, cache, warmup), env=env, volumes=(volume,),
                           mounts=(Mount(CACHE_VOLUME, nim.CACHE_PATH),), storage_uris=())


def warmup_deadline(download_bytes: int | None) -> int:
    if download_bytes is None:
        return 2 * WARMUP_DEADLINE_FLOOR_SECONDS
    return max(WARMUP_DEADLINE_FLOOR_SECONDS, math.ceil(3 * download_bytes / nim.DOWNLOAD_BYTES_PER_SECOND / 60) * 60)


def _cache_claim(ctx: WorkloadContext, name: str, mounters: Mounters) -> CacheClaim | ExistingClaim | None:
    source = ctx.gallery.datasources.get(name)
    path = ("spec", "store", "ngc", "cache", "dataSource")
    if source is None:
        if ("DataSource", name) not in ctx.gallery.invalid:
            ctx.error(path, f"unknown data source '{name}'", suggest(name, list(ctx.gallery.datasources)))
        return None
    spec = source.data["spec"]
    if "existingClaim" in spec:
        return ExistingClaim(spec["existingClaim"])
    pvc = spec["pvc"]
    # a rollout's new pods (Knative's new revision, a surge) mount the claim while the old ones still do
    shared = mounters.pods > 1
    mode = pvc.get("accessMode") or ("ReadWriteMany" if shared else "ReadWriteOnce")
    if shared and mode != "ReadWriteMany":
        ctx.error(path, f"data source '{name}' is {mode}, but up to {mounters.pods} pods share the cache "
                  f"({mounters.described()})",
                  "pods on different nodes need ReadWriteMany (a ReadWriteOnce volume stays attached to one node "
                  "and the others fail with Multi-Attach): drop accessMode or use an RWX data source")
    storage_class = pvc.get("storageClass") or (
        ctx.env.storage_shared_class if mode == "ReadWriteMany" else ctx.env.storage_default_class)
    size = canonical(pvc["size"])
    ctx.record("cache.pvc", {"size": size, "accessMode": mode, "storageClass": storage_class},
               f"data source {name} ({source.file})")
    return CacheClaim(Meta(naming.cache_claim(ctx.name), annotations=(("nimgen.dev/data-source", name),)),
                      size, storage_class, mode)
