"""LoRA adapters: where NIM finds them (NIM_PEFT_SOURCE, a directory inside the container) and how they get
there: a claim mounted read-only, or object storage that KServe's storage initializer downloads beside the model.
Only a LoRA-capable profile serves adapters. Sources: research/issue15-nim-facts.md and
research/issue15-kserve-keda-facts.md."""

from __future__ import annotations

from dataclasses import dataclass

from ..model import (ClaimVolume, DeploymentMode, EnvVar, Lora, LoraFromClaim, LoraFromUri, LoraSource, Mount,
                     ProfileDecision, StorageUri, Volume)
from . import nim
from .context import WorkloadContext

LORA = ("spec", "lora")
LORA_VOLUME = "lora-adapters"
CLAIM_PATH = "/opt/nim/loras"            # a pvc source's mount
URI_PATH = "/mnt/loras"                  # a uri source's download (beside the model's /mnt/models)
# NIM's LoRA settings (NIM for LLMs, "Parameter-Efficient Fine-Tuning"; research/issue15-nim-facts.md): the
# adapters' directory, one folder per adapter whose name is the served model name (NIM_PEFT_SOURCE, 1.x and 2.x),
# and how often NIM looks there for new ones, in seconds (NIM_PEFT_REFRESH_INTERVAL; unset: never). How many
# adapters it keeps on the GPU and in host memory: NIM 1.x reads NIM_MAX_GPU_LORAS and NIM_MAX_CPU_LORAS (passed
# to vLLM's max_loras and max_cpu_loras); NIM 2.x documents no such variable and takes vLLM's flags through
# NIM_PASSTHROUGH_ARGS.
PEFT_SOURCE = "NIM_PEFT_SOURCE"
REFRESH = "NIM_PEFT_REFRESH_INTERVAL"
# field -> (NIM 1.x variable, NIM 2.x engine flag)
LIMITS = (("maxAdapters", "NIM_MAX_GPU_LORAS", "--max-loras"), ("maxCpuAdapters", "NIM_MAX_CPU_LORAS", "--max-cpu-loras"))


@dataclass(frozen=True)
class LoraDecision:
    lora: Lora | None
    env: tuple[EnvVar, ...] = ()
    volumes: tuple[Volume, ...] = ()
    mounts: tuple[Mount, ...] = ()
    storage_uris: tuple[StorageUri, ...] = ()


NONE = LoraDecision(None)


def resolve_lora(ctx: WorkloadContext, mode: DeploymentMode, decision: ProfileDecision | None,
                 version: str | None) -> LoraDecision:
    spec = ctx.spec.get("lora")
    profile = decision.profile if decision else None
    if spec is None:
        if profile is not None and profile.lora:
            ctx.warn(("spec", "profile"), f"profile {profile.name} serves LoRA adapters, but spec.lora names none",
                     "add spec.lora: {source: {pvc: {claim, path}} | {uri: ...}}, or pin a profile without LoRA")
        return NONE
    requested = ctx.spec.get("profile", {})
    if requested.get("auto", {}).get("lora") is False:
        ctx.error(("spec", "profile", "auto", "lora"), "spec.lora serves adapters, which needs a LoRA profile",
                  "drop auto.lora: false (spec.lora already asks for a LoRA profile)")
        return NONE
    if profile is not None and not profile.lora:
        ctx.error(LORA, f"profile {profile.name} cannot serve LoRA adapters (its lora tag is false)",
                  "pin a LoRA profile (its name ends in -lora), or use profile.auto, which picks one")
        return NONE
    source = _source(ctx, mode)
    if source is None:
        return NONE
    gpu, cpu = (ctx.value(LORA + (key,)) for key, _, _ in LIMITS)
    refresh = ctx.value(LORA + ("refreshSeconds",))
    if gpu is not None and cpu is not None and cpu < gpu:
        ctx.error(LORA + ("maxCpuAdapters",), f"maxCpuAdapters ({cpu}) is below maxAdapters ({gpu}): NIM loads "
                  "adapters onto the GPU from its host-memory cache", "give maxCpuAdapters at least maxAdapters")
    path = CLAIM_PATH if isinstance(source, LoraFromClaim) else URI_PATH
    lora = Lora(source, path, gpu, cpu, refresh)
    env = (EnvVar(PEFT_SOURCE, path),) + ((EnvVar(REFRESH, str(refresh)),) if refresh is not None else ())
    given = [(variable, flag, value) for (_, variable, flag), value in zip(LIMITS, (gpu, cpu)) if value is not None]
    if nim.major(version) >= nim.NIM_2:
        if given:
            env += (EnvVar(nim.PASSTHROUGH, " ".join(f"{flag} {value}" for _, flag, value in given)),)
    else:
        env += tuple(EnvVar(variable, str(value)) for variable, _, value in given)
    match source:
        case LoraFromClaim(claim, sub_path):
            return LoraDecision(lora, env, volumes=(ClaimVolume(LORA_VOLUME, claim, read_only=True),),
                                mounts=(Mount(LORA_VOLUME, path, read_only=True, sub_path=sub_path),))
        case LoraFromUri(uri):
            return LoraDecision(lora, env, storage_uris=(StorageUri(uri, path),))


def _source(ctx: WorkloadContext, mode: DeploymentMode) -> LoraSource | None:
    source = ctx.spec["lora"]["source"]
    if "pvc" in source:
        claim = ctx.value(LORA + ("source", "pvc", "claim"))
        path = ctx.value(LORA + ("source", "pvc", "path"))
        return LoraFromClaim(claim, path.strip("/") or None if path else None)
    given = ctx.spec["lora"]["source"]["uri"]
    at = LORA + ("source", "uri") + (() if isinstance(given, str) else ("url",))
    uri = ctx.value(at)
    account = ctx.value(LORA + ("source", "uri", "serviceAccount")) if isinstance(given, dict) else None
    if uri.startswith("pvc://"):
        ctx.error(at, "adapters on a claim are mounted, not downloaded", "use source: {pvc: {claim, path}}")
        return None
    if uri.startswith("hf://"):
        # KServe puts a Hugging Face repository's files straight into the mount path, and NIM looks there for one
        # folder per adapter: one adapter repository would be no adapter at all
        ctx.error(at, "NIM reads one folder per adapter from its source, and a hf:// download is one repository's "
                  "files", "stage the adapters in object storage (s3:// or gs://, one folder each) or on a claim")
        return None
    if not ctx.env.kserve.storage_uris:
        ctx.error(at, f"KServe {ctx.env.kserve.version} downloads one storage URI per InferenceService; adapters "
                  "from object storage need spec.predictor.storageUris (KServe 0.16 or later)",
                  "stage the adapters on a claim (source: {pvc: ...}), or declare kserve.version 0.16 or later")
        return None
    if mode is DeploymentMode.KNATIVE:
        ctx.error(at, "in Knative mode KServe's storage initializer downloads only STORAGE_URI (storageUris would put "
                  "an init container into the Knative Service, which Knative refuses by default)",
                  "stage the adapters on a claim (source: {pvc: ...}), or run the workload in Standard mode")
        return None
    return LoraFromUri(uri, account)
