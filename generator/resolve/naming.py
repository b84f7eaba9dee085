"""Every name and label set nimgen gives an object, decided here once.

KServe derives some names itself; where nimgen must refer to them (the predictor Deployment an autoscaler
targets, the pod label a policy selects), the rule is written down here and nowhere else.
"""

from __future__ import annotations

import hashlib

from ..model import DeploymentMode, Labels, labels_of

MANAGED_BY = ("app.kubernetes.io/managed-by", "nimgen")
PROJECT_LABEL = "nimgen.dev/project"
DEPARTMENT_LABEL = "nimgen.dev/department"
# KServe labels every predictor pod with its InferenceService's name.
ISVC_POD_LABEL = "serving.kserve.io/inferenceservice"
# The series label nimgen's PodMonitor gives every NIM metric: the InferenceService's name (Prometheus label
# names cannot hold the pod label's dots and slash).
SERIES_WORKLOAD_LABEL = "inferenceservice"


# Kubernetes names of the objects nimgen writes are DNS labels here (a Service, a Job's job-name label): at most
# 63 characters. A generated name that would be longer keeps as much of the workload name as fits, then a hash
# of the whole name, then the suffix: deterministic, unique, and still recognisable.
MAX_NAME = 63
# KServe derives names from the InferenceService name that nimgen cannot shorten: Standard mode creates the
# Service `<isvc>-predictor`; Knative mode the revision Service `<isvc>-predictor-00001-private`.
PREDICTOR_SUFFIX = "-predictor"
KNATIVE_PRIVATE_SUFFIX = "-predictor-00001-private"


def longest_suffix(mode: DeploymentMode) -> str:
    """The longest name suffix KServe (or Knative) adds to an InferenceService's name in this mode."""
    return KNATIVE_PRIVATE_SUFFIX if mode is DeploymentMode.KNATIVE else PREDICTOR_SUFFIX


def longest_workload_name(mode: DeploymentMode) -> int:
    return MAX_NAME - len(longest_suffix(mode))


def bounded(base: str, suffix: str) -> str:
    name = f"{base}{suffix}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    keep = MAX_NAME - len(suffix) - len(digest) - 1
    return f"{base[:keep].rstrip('-')}-{digest}{suffix}"


def predictor(workload: str) -> str:
    """KServe names the predictor Deployment and its Service `<isvc>-predictor` (Standard mode; in Knative mode
    the Service of that name is an ExternalName to the revision)."""
    return f"{workload}{PREDICTOR_SUFFIX}"


def cache_claim(workload: str) -> str:
    return bounded(workload, "-nim-cache")


def warmup_job(workload: str, digest: str) -> str:
    """Named after what it downloads: a changed download is a new Job, never a patch of an immutable one."""
    return bounded(workload, f"-warmup-{digest[:8]}")


def wake_service(workload: str) -> str:
    """The Service name callers use to reach a workload that scales from zero through the KEDA HTTP add-on."""
    return bounded(workload, "-wake")


def wake_hosts(workload: str, namespace: str) -> tuple[str, ...]:
    """Every Host header a caller in the cluster may send for the wake Service (the interceptor routes on it)."""
    wake = wake_service(workload)
    return (f"{wake}.{namespace}.svc.cluster.local", f"{wake}.{namespace}.svc", f"{wake}.{namespace}", wake)


def wake_address(workload: str, namespace: str, port: int) -> str:
    """The address callers use to reach a workload that wakes through the interceptor."""
    return f"{wake_service(workload)}.{namespace}:{port}"


def pod_monitor(workload: str) -> str:
    return workload


def peer_authentication(workload: str) -> str:
    return bounded(workload, "-plaintext-ports")


WAYPOINT = "waypoint"                    # one per namespace, the name `istioctl waypoint apply` gives it


def ingress_policy(workload: str) -> str:
    return bounded(workload, "-ingress")


def waypoint_ingress_policy() -> str:
    return f"{WAYPOINT}-ingress"


def ztunnel_policy(workload: str) -> str:
    """The L4 AuthorizationPolicy that lets only the waypoint (and the scrape) reach a workload's pods."""
    return bounded(workload, "-via-waypoint")


def request_authentication(workload: str) -> str:
    return bounded(workload, "-jwt")


def authorization_policy(workload: str) -> str:
    return bounded(workload, "-access")


def resource_quota(project: str) -> str:
    return f"{project}-quota"


def limit_range(project: str) -> str:
    return f"{project}-defaults"


DEFAULT_DENY_POLICY = "default-deny-ingress"


def pod_selector(workload: str) -> Labels:
    """The labels that select a workload's predictor pods."""
    return ((ISVC_POD_LABEL, workload),)


def charge_back_labels(environment_labels: Labels, own: dict[str, str]) -> Labels:
    """The environment's standard labels with the project's charge-back labels over them."""
    labels = dict(environment_labels)
    labels.update(own)
    return labels_of(labels)


def project_labels(charge_back: Labels, project: str) -> Labels:
    """On every object of a project."""
    labels = dict(charge_back)
    labels[PROJECT_LABEL] = project
    labels[MANAGED_BY[0]] = MANAGED_BY[1]
    return labels_of(labels)


def department_labels(environment_labels: Labels, department: str) -> Labels:
    """On a department's queue."""
    labels = dict(environment_labels)
    labels[DEPARTMENT_LABEL] = department
    labels[MANAGED_BY[0]] = MANAGED_BY[1]
    return labels_of(labels)


def workload_labels(charge_back: Labels, own: dict[str, str], workload: str, project: str) -> Labels:
    """On every object of a workload: charge-back labels, the workload's own, and nimgen's identification."""
    labels = dict(charge_back)
    labels.update(own)
    labels.update({"app.kubernetes.io/name": workload, "app.kubernetes.io/component": "inference",
                   PROJECT_LABEL: project, MANAGED_BY[0]: MANAGED_BY[1]})
    return labels_of(labels)


def pod_labels(workload_labels_: Labels) -> Labels:
    """Labels of pods a controller creates for the workload: the workload's, less managed-by (nimgen does not
    manage pods; their controller does)."""
    return tuple(item for item in workload_labels_ if item[0] != MANAGED_BY[0])
