"""The KAI scheduler's contract with the pods and queues nimgen writes: names, labels, annotations and units,
each as the KAI source reads it (research/issue14-kai-facts.md has the sources)."""

from __future__ import annotations

SCHEDULER_NAME = "kai-scheduler"         # the schedulerName KAI's pods carry (kai-scheduler's default)
QUEUE_LABEL = "kai.scheduler/queue"      # the pod label naming the queue a pod is scheduled in
# Under KAI, inference pods get a priority class so they are not preempted by training jobs.
DEFAULT_PRIORITY_CLASS = "inference"
# Decides whether KAI may preempt a pod, whatever its priority class implies.
PREEMPTIBILITY_LABEL = "kai.scheduler/preemptibility"
PREEMPTIBLE, NON_PREEMPTIBLE = "preemptible", "non-preemptible"
# Without the label a pod is preemptible when its priority is below 100 (pkg/common/podgroup/preemptible.go); KAI's
# Knative grouper never reads the label, so there the class alone decides. KAI installs these classes.
PREEMPTIBLE_BELOW = 100
BUILT_IN_CLASSES = {"train": 50, "build-preemptible": 75, "build": 100, "inference": 125}
# GPU sharing: a pod asks for part of one GPU through an annotation instead of an nvidia.com/gpu request.
GPU_FRACTION = "gpu-fraction"            # a decimal fraction of one GPU, e.g. "0.5"
GPU_MEMORY = "gpu-memory"                # GPU memory in MiB, e.g. "20480"
GPU_SHARE_CONTAINER = "gpu-fraction-container-name"   # the container the share is for (the pod's others get none)
# The oldest KAI release that reads everything above (KAI-Scheduler CHANGELOG, CRDs and git tags): the queue label
# and kai-resource-reservation from v0.6.0, Queue preemptMinRuntime/reclaimMinRuntime from v0.5.2 (enforced from
# v0.6.0), the preemptibility label and gpu-fraction-container-name from v0.10.0.
MIN_VERSION = "v0.10"
