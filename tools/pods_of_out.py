"""Write the pods out/ would start as Pod manifests, for pod-level scanners (checkov, kube-score, ...).

Scanners check Pods, Deployments and Jobs, not KServe's InferenceService: each predictor and each Job template of
out/<env>/ becomes one Pod in DEST/<env>/<file>--<name>.yaml (KServe copies the predictor's pod fields to the
Deployment it creates; KServe's own storage initializer, injected at run time, is not in them). The
NetworkPolicies are written beside them, as checks that relate pods to policies need them.

    python tools/pods_of_out.py DEST            # then: checkov -d DEST --framework kubernetes
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

PROJECT = Path(__file__).resolve().parent.parent
POD_FIELDS_NOT_IN_A_POD = {"minReplicas", "maxReplicas", "scaleMetric", "scaleTarget", "deploymentStrategy", "timeout",
                           "storageUris", "labels", "annotations", "logger", "batcher", "canaryTrafficPercent"}


def pods(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, metadata, pod spec) of the pods an object starts."""
    meta = obj.get("metadata", {})
    if obj.get("kind") == "InferenceService":
        predictor = obj["spec"]["predictor"]
        spec = {k: v for k, v in predictor.items() if k not in POD_FIELDS_NOT_IN_A_POD}
        labels = {**predictor.get("labels", {}), "serving.kserve.io/inferenceservice": meta["name"]}
        annotations = {**meta.get("annotations", {}), **predictor.get("annotations", {})}
        return [(f"{meta['name']}-predictor", {"labels": labels, "annotations": annotations}, spec)]
    if obj.get("kind") == "Job":
        template = obj["spec"]["template"]
        return [(meta["name"], template.get("metadata", {}), template["spec"])]
    return []


def main(dest: Path) -> int:
    written = 0
    for path in sorted((PROJECT / "out").rglob("*.yaml")):
        rel = path.relative_to(PROJECT / "out")
        for obj in yaml.safe_load_all(path.read_text()):
            if (obj or {}).get("kind") == "NetworkPolicy":
                target = dest / rel.parts[0] / f"{'--'.join(rel.parts[1:])[:-len('.yaml')]}--{obj['metadata']['name']}.yaml"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(yaml.safe_dump(obj, sort_keys=False))
            for name, meta, spec in pods(obj or {}):
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": obj["metadata"].get("namespace"), **meta}, "spec": spec}
                target = dest / rel.parts[0] / f"{'--'.join(rel.parts[1:])[:-len('.yaml')]}--{name}.yaml"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(yaml.safe_dump(pod, sort_keys=False))
                written += 1
    print(f"{written} pod(s) written under {dest}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
