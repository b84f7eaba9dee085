"""The NIM container contract: port, health paths, cache path, user, security. Facts of the image, set once."""

from __future__ import annotations

import math
from decimal import Decimal

from ..model import ContainerSecurity, DeploymentMode, EmptyDirVolume, EnvVar, Mount, PodSecurity, Probe
from ..quantities import plain

PORT = 8000                              # OpenAI-compatible HTTP API, health and metrics
# Knative accepts only "http1" or "h2c" as the name of a serving container's port; Standard mode does not care.
PORT_NAME = "http1"
# Knative renames the serving container's port in the Deployment it makes of a revision (knative/serving
# pkg/apis/serving/v1 UserPortName = "user-port": "the name that will be used for the Port on the Deployment and
# Pod created by a Revision ... regardless of if a user specifies a port"), so a scrape by port name asks for it.
KNATIVE_PORT_NAME = "user-port"
LIVE_PATH = "/v1/health/live"
READY_PATH = "/v1/health/ready"
METRICS_PATH = "/v1/metrics"
CACHE_PATH = "/opt/nim/.cache"           # NIM_CACHE_PATH's default inside the image
URI_MOUNT = "/mnt/models"                # where KServe's storage initializer puts a storage URI's files
UID = 1000                               # NVIDIA's images run as uid 1000; fsGroup makes mounted volumes writable
CONTAINER_NAME = "kserve-container"      # the name KServe gives the predictor's main container

# Pod Security "restricted" needs a seccomp profile (RuntimeDefault or Localhost) besides non-root and no
# privilege escalation: kubernetes.io/docs/concepts/security/pod-security-standards (Restricted, Seccomp).
POD_SECURITY = PodSecurity(run_as_non_root=True, run_as_user=UID, run_as_group=UID, fs_group=UID,
                           seccomp_profile="RuntimeDefault")
# A read-only root filesystem (checkov CKV_K8S_22): NIM writes its cache (NIM_CACHE_PATH, always a volume) and
# scratch files under /tmp (OUTLINES_CACHE_DIR below; Python's tempfile), so an emptyDir at /tmp is the other
# writable path. A workload whose image writes elsewhere opts out (spec.security.readOnlyRootFilesystem: false).
SCRATCH_VOLUME, SCRATCH_PATH = "tmp", "/tmp"


def container_security(read_only_root: bool) -> ContainerSecurity:
    return ContainerSecurity(allow_privilege_escalation=False, drop_capabilities=("ALL",), read_only_root=read_only_root)


def scratch(read_only_root: bool) -> tuple[tuple[EmptyDirVolume, ...], tuple[Mount, ...]]:
    """The writable /tmp a read-only root needs (an image's own /tmp serves otherwise)."""
    if not read_only_root:
        return (), ()
    return (EmptyDirVolume(SCRATCH_VOLUME),), (Mount(SCRATCH_VOLUME, SCRATCH_PATH),)


def running_port_name(mode: DeploymentMode) -> str:
    """The name the NIM port has in the running pod, which is what a PodMonitor selects."""
    return KNATIVE_PORT_NAME if mode is DeploymentMode.KNATIVE else PORT_NAME


PROBE_PERIOD_SECONDS = 10


def probe(path: str, failures: int) -> Probe:
    return Probe(path, PORT, period_seconds=PROBE_PERIOD_SECONDS, failure_threshold=failures, timeout_seconds=5)


LIVENESS = probe(LIVE_PATH, 3)
READINESS = probe(READY_PATH, 3)

# KServe's Standard mode leaves the predictor Deployment at Kubernetes' default progressDeadlineSeconds of 600
# (kserve v0.20 deployment_reconciler.go; no InferenceService field changes it), and that deadline runs from the
# rollout's start: it covers scheduling, the image pull (NIM images are 10-40 GB) and the start itself. A start-up
# probe allowed longer would show the workload failed while it still starts. The start-up window is what is left
# after a stated allowance for scheduling and pulling the image; a start that needs more (a large download with
# no warm cache) restarts the container, which keeps its cache volume and resumes. Knative's deadline is an
# annotation nimgen sets, so there the window covers a cold download.
PROGRESS_DEADLINE_SECONDS = 600
PULL_ALLOWANCE_SECONDS = 180             # scheduling and the image pull, at about 1 Gb/s for a 20 GB image
STANDARD_START_SECONDS = PROGRESS_DEADLINE_SECONDS - PULL_ALLOWANCE_SECONDS
COLD_START_SECONDS = 1800
# The rate at which a starting server is assumed to download its profile (NGC or object storage, about 1 Gb/s):
# the basis of the warning that a Standard-mode start cannot download its model within the start-up window.
DOWNLOAD_BYTES_PER_SECOND = 125_000_000


def start_window(mode: DeploymentMode, requested: int | None) -> int:
    """The start-up window: the workload's spec.probes.startup.seconds, else the mode's default."""
    if requested is not None:
        return requested
    return COLD_START_SECONDS if mode is DeploymentMode.KNATIVE else STANDARD_START_SECONDS


def deadline(start_seconds: int) -> int:
    """From a replica's creation to its readiness: scheduling and the image pull, then the start-up window."""
    return start_seconds + PULL_ALLOWANCE_SECONDS


def startup_probe(start_seconds: int) -> Probe:
    return probe(READY_PATH, math.ceil(start_seconds / PROBE_PERIOD_SECONDS))


# What the NIM operator and NVIDIA's nim-llm chart set on every NIM container (k8s-nim-operator
# nimservice_types.go GetStandardEnv; nim-llm templates/deployment.yaml): the port the server listens on, a
# writable cache for structured-output grammars, and JSON log lines a log pipeline can parse.
# The port is nimgen's (probes, Services and policies use it); the others are defaults a user's env may change.
PORT_ENV = EnvVar("NIM_SERVER_PORT", str(PORT))
DEFAULT_ENV = (EnvVar("OUTLINES_CACHE_DIR", "/tmp/outlines"), EnvVar("NIM_JSONL_LOGGING", "1"),
               EnvVar("NIM_LOG_LEVEL", "INFO"))


# The engines whose GPU memory NIM lets a deployment bound: a GPU share needs one, because the KAI scheduler does
# not isolate GPU memory and an engine left alone takes most of the GPU. NIM 1.x maps NIM_KVCACHE_PERCENT onto
# vLLM's gpu_memory_utilization, a fraction (0 to 1, not a percent) of the GPU's whole memory for the whole engine:
# weights, activations and KV cache (NIM's vLLM argument defaults; vLLM engine arguments: "if you have two vLLM
# instances running on the same GPU, you can set the GPU memory utilization to 0.5 for each instance"). NIM 2.x
# documents passing vLLM's own flag through NIM_PASSTHROUGH_ARGS (NIM for LLMs, advanced configuration). NIM
# documents no bound for TensorRT-LLM (its kv_cache_free_gpu_mem_fraction is a share of the memory left free after
# the weights, which depends on the GPU's other pods) nor for SGLang. Sources: research/issue14-nim-memory-facts.md.
ENGINE_MEMORY_BOUND = frozenset({"vllm"})
NIM_2 = 2


PASSTHROUGH = "NIM_PASSTHROUGH_ARGS"


def major(version: str | None) -> int:
    """The NIM release line of a catalog version (1 when unknown: a custom image)."""
    head = version.split(".", 1)[0] if version else ""
    return int(head) if head.isdigit() else 1


def memory_bound(version: str | None, fraction: Decimal) -> tuple[EnvVar, ...]:
    """What tells a vLLM NIM to stay within `fraction` of its GPU's memory."""
    if major(version) >= NIM_2:
        return (EnvVar(PASSTHROUGH, f"--gpu-memory-utilization {plain(fraction)}"),)
    return (EnvVar("NIM_KVCACHE_PERCENT", plain(fraction)),)


def joined_engine_args(env: tuple[EnvVar, ...]) -> tuple[EnvVar, ...]:
    """NIM 2 takes every engine flag in one NIM_PASSTHROUGH_ARGS: flags that several concerns give (a GPU share's
    memory bound, LoRA limits) are joined into the first one's place."""
    args = [v.value for v in env if v.name == PASSTHROUGH and isinstance(v.value, str)]
    if len(args) < 2:
        return env
    joined = EnvVar(PASSTHROUGH, " ".join(args))
    first = next(i for i, v in enumerate(env) if v.name == PASSTHROUGH)
    return tuple(joined if i == first else v for i, v in enumerate(env) if i == first or v.name != PASSTHROUGH)
