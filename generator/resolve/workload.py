"""One InferenceWorkload: each concern resolved by its own module, assembled into a model Workload."""

from __future__ import annotations

from typing import Any

from ..diagnostics import Diagnostic, errors_in
from ..inputs.load import Document
from ..model import DeploymentMode, EnvVar, Environment, Lora, LoraFromUri, Project, Workload, labels_of
from . import mesh, naming, nim
from .access import ingress_policy, plaintext_ports, resolve_access
from .compute import compute_spec, engine_env, resolve_compute, share_annotations
from .context import Gallery, WorkloadContext, sources_of
from .mesh import NamespaceTraits
from .monitoring import scrape
from .pinning import model_reference, pin_profile
from .placement import candidate_pools, resolve_placement
from .scaling import disruption_budget, resolve_scaling
from .container_env import server_env, user_env
from .images import pull_secrets
from .lora import resolve_lora
from .outbound import ca_volumes, outbound_env, outbound_of
from .service import (START_SECONDS, ServerParts, deployment_mode, inference_service, resolve_rollout, resolve_start_window,
                      service_annotations, start_problems, visibility_labels)
from .storage import Mounters, Outbound, pull_secret, resolve_storage, uses_storage_initializer


def resolve_workload(doc: Document, env: Environment, project: Project, gallery: Gallery,
                     traits: NamespaceTraits) -> tuple[Workload | None, list[Diagnostic]]:
    ctx = WorkloadContext(doc, env, project, gallery)
    metadata = doc.data["metadata"]
    spec, template_failed = compute_spec(ctx)
    pools = candidate_pools(ctx, spec)
    ref = model_reference(ctx)
    # the HPA, KEDA and the HTTP add-on scale Deployments, which exist in Standard mode only
    scaling = resolve_scaling(ctx, nim.start_window(DeploymentMode.STANDARD, requested_start(ctx.spec)))
    decision, gpus = pin_profile(ctx, ref, pools, spec) if ref else (None, None)
    compute = resolve_compute(ctx, spec, template_failed, gpus, pools)
    labels = naming.workload_labels(project.charge_back, metadata.get("labels", {}), ctx.name, project.name)
    image = ref.image if ref else ""
    pulls = pull_secrets(env.images, image, pull_secret(ctx.spec), catalog=ref is not None and ref.catalog is not None)
    mode = deployment_mode(env, scaling)
    start = resolve_start_window(ctx, mode)
    read_only_root = ctx.value(("spec", "security", "readOnlyRootFilesystem"), True)
    rollout = resolve_rollout(ctx, scaling, mode)
    network = outbound_of(ctx.spec.get("network", {}), env.network)
    outbound = Outbound(outbound_env(network), *ca_volumes(network))
    user = user_env(ctx)
    storage = resolve_storage(ctx, mode, Mounters(scaling.max_replicas, rollout.surge_replicas), image,
                              decision.pin if decision else "",
                              decision.profile.download_bytes if decision and decision.profile else None, labels, pulls,
                              read_only_root, Outbound(outbound.env + user.all, outbound.volumes, outbound.mounts))
    lora = resolve_lora(ctx, mode, decision, ref.version if ref else None)
    longest = naming.longest_workload_name(mode)
    if len(ctx.name) > longest:
        ctx.error(("metadata", "name"), f"'{ctx.name}' is {len(ctx.name)} characters: KServe names a Service "
                  f"'<name>{naming.longest_suffix(mode)}', which must fit in {naming.MAX_NAME}",
                  f"use at most {longest} characters for a {mode.value}-mode workload")
    access = resolve_access(ctx, mode)
    model_download = uses_storage_initializer(ctx.spec)
    initializer = model_download or (lora.lora is not None and isinstance(lora.lora.source, LoraFromUri))
    pod_annotations = mesh.pod_annotations(env, traits.meshed, initializer)
    if mesh.needs_native_sidecar(env, traits.meshed, initializer) and not env.native_sidecars:
        at = ("spec", "store", "uri") if model_download else ("spec", "lora", "source", "uri")
        ctx.error(at, f"in namespace {project.namespace} (in the mesh for token access) the "
                  f"storage initializer downloads through an Istio proxy, which must start first: a native sidecar, "
                  f"which Kubernetes {env.kubernetes_version} does not run by default",
                  "use Kubernetes 1.29 or later, a pvc or ngc store, or keep token workloads in another project")
    placement = resolve_placement(ctx, pools, spec, mode)
    if storage is not None and decision is not None:
        start_problems(ctx, mode, storage.store, decision.profile, start)
    if ctx.failed or ref is None or decision is None or compute is None or storage is None:
        return None, ctx.problems
    owned = nim.joined_engine_args(engine_env(compute.gpu, ref.version) + storage.env + lora.env + outbound.env)
    parts = ServerParts(
        env=server_env(ctx, (EnvVar("NIM_MODEL_PROFILE", decision.pin), nim.PORT_ENV), owned, user),
        volumes=storage.volumes + lora.volumes + outbound.volumes, mounts=storage.mounts + lora.mounts + outbound.mounts,
        storage_uris=storage.storage_uris + lora.storage_uris,
        service_account=pod_service_account(ctx, storage.service_account, lora.lora))
    if errors_in(ctx.problems):          # the user's env (ctx.failed was False above; mypy narrows the property)
        return None, ctx.problems
    own = dict(metadata.get("annotations", {}))
    own.update(storage.annotations)
    service = inference_service(
        ctx.name, service_annotations(env, own, scaling, mode, start, decision, ref.model, ref.version),
        visibility_labels(access), ref.image, compute, parts, scaling, mode, start, rollout, placement, pulls,
        pod_labels=placement.pod_labels,
        pod_annotations=labels_of(dict(pod_annotations) | dict(share_annotations(compute.gpu))),
        read_only_root=read_only_root)
    workload = Workload(
        name=ctx.name, project=project.name, namespace=project.namespace, sources=sources_of(doc), labels=labels,
        image=ref.image, model=ref.model, model_version=ref.version, profile=decision, compute=compute,
        store=storage.store, scaling=scaling, access=access, service=service,
        ingress=ingress_policy(ctx, access, scaling, mode, traits.meshed), scrape=scrape(ctx.name, env, mode),
        peer=mesh.peer_policy(ctx.name, traits.meshed, plaintext_ports(mode)),
        disruption=disruption_budget(ctx, scaling), lora=lora.lora, network=network, start_seconds=start,
        provenance=tuple(ctx.provenance))
    return workload, ctx.problems


def requested_start(spec: dict[str, Any]) -> int | None:
    """spec.probes.startup.seconds as written (resolve_start_window records and checks it)."""
    node: Any = {"spec": spec}
    for part in START_SECONDS:
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, int) else None


def pod_service_account(ctx: WorkloadContext, store: str | None, lora: Lora | None) -> str | None:
    """The predictor's one service account, whose secrets KServe's storage initializer reads for every download."""
    adapters = lora.source.service_account if lora is not None and isinstance(lora.source, LoraFromUri) else None
    if store and adapters and store != adapters:
        ctx.error(("spec", "lora", "source", "uri", "serviceAccount"), f"the adapters' service account '{adapters}' "
                  f"is not the store's '{store}': a pod runs as one, and KServe reads every download's "
                  "credentials from its secrets", "give both downloads one ServiceAccount that holds both credentials")
    return store or adapters
