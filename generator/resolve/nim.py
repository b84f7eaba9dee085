"""The NIM container contract: port, health paths, cache path, user, security. Facts of the image, set once."""

from __future__ import annotations

from ..model import ContainerSecurity, PodSecurity, Probe

PORT = 8000                              # OpenAI-compatible HTTP API, health and metrics
LIVE_PATH = "/v1/health/live"
READY_PATH = "/v1/health/ready"
METRICS_PATH = "/v1/metrics"
CACHE_PATH = "/opt/nim/.cache"           # NIM_CACHE_PATH's default inside the image
URI_MOUNT = "/mnt/models"                # where KServe's storage initializer puts a storage URI's files
UID = 1000                               # NVIDIA's images run as uid 1000; fsGroup makes mounted volumes writable
DEFAULT_PULL_SECRET = "ngc-secret"       # the conventional pull secret for nvcr.io
CONTAINER_NAME = "kserve-container"      # the name KServe gives the predictor's main container

# Pod Security "restricted" needs a seccomp profile (RuntimeDefault or Localhost) besides non-root and no
# privilege escalation: kubernetes.io/docs/concepts/security/pod-security-standards (Restricted, Seccomp).
POD_SECURITY = PodSecurity(run_as_non_root=True, run_as_user=UID, run_as_group=UID, fs_group=UID,
                           seccomp_profile="RuntimeDefault")
CONTAINER_SECURITY = ContainerSecurity(allow_privilege_escalation=False, drop_capabilities=("ALL",))


def probe(path: str, failures: int) -> Probe:
    return Probe(path, PORT, period_seconds=10, failure_threshold=failures, timeout_seconds=5)


LIVENESS = probe(LIVE_PATH, 3)
READINESS = probe(READY_PATH, 3)
# model download and engine load can take many minutes: up to 30 min before liveness takes over
STARTUP = probe(READY_PATH, 180)


def pull_secrets(image: str, explicit: str | None) -> tuple[str, ...]:
    if explicit:
        return (explicit,)
    if image.startswith("nvcr.io/"):
        return (DEFAULT_PULL_SECRET,)
    return ()
