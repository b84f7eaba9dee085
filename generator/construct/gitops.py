"""The objects that make Argo CD or Flux sync out/: an ApplicationSet with one Application per environment, and
per environment a GitRepository with a Kustomization per part of out/<env>/ (prepare, then serve)."""

from __future__ import annotations

import re
from typing import Any

from constructs import Construct

from ..model import ArgoApplications, FluxSync, GitOps, Meta
from .base import api_object

# The Application's destination is an API server URL or a cluster's name in Argo CD, and pruning a choice: both
# differ per environment, and neither can be a list generator parameter inside the template (a value, not a
# field name or a boolean), so a templatePatch (Argo CD 2.10) writes them from the element's parameters.
TEMPLATE_PATCH = """spec:
  destination:
    {{ .destinationField }}: '{{ .cluster }}'
  syncPolicy:
    automated:
      prune: {{ .prune }}
      selfHeal: true
"""
MANAGED = ("app.kubernetes.io/managed-by", "nimgen")
FLUX_INTERVAL = "10m"
SOURCE_INTERVAL = "1m"
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def application_set(scope: Construct, value: ArgoApplications) -> None:
    elements = [{"environment": env, "repoURL": g.repo_url, "revision": g.revision, "cluster": g.cluster,
                 "destinationField": "server" if g.cluster_is_url else "name", "prune": str(g.prune).lower()}
                for env, g in value.environments]
    template = {
        "metadata": {"name": "nimgen-{{.environment}}", "labels": dict([MANAGED])},
        "spec": {"project": "default",
                 "source": {"repoURL": "{{.repoURL}}", "targetRevision": "{{.revision}}", "path": "out/{{.environment}}"},
                 "destination": {},
                 # Namespaces are objects of out/<env>/ (labels, Pod Security) in its earliest sync wave: Argo CD
                 # must not create them bare first
                 "syncPolicy": {"syncOptions": ["CreateNamespace=false"]}}}
    api_object(scope, "argoproj.io/v1alpha1", "ApplicationSet", Meta(value.name, labels=(MANAGED,)),
               spec={"goTemplate": True, "goTemplateOptions": ["missingkey=error"],
                     "generators": [{"list": {"elements": elements}}], "template": template,
                     "templatePatch": TEMPLATE_PATCH})


def _ref(gitops: GitOps) -> dict[str, str]:
    return {"commit": gitops.revision} if COMMIT.match(gitops.revision) else {"branch": gitops.revision}


def flux_sync(scope: Construct, value: FluxSync) -> None:
    source = f"nimgen-{value.environment}"
    api_object(scope, "source.toolkit.fluxcd.io/v1", "GitRepository", Meta(source, labels=(MANAGED,)),
               spec={"interval": SOURCE_INTERVAL, "url": value.gitops.repo_url, "ref": _ref(value.gitops)})
    prepare, serve = f"{source}-prepare", f"{source}-serve"
    common: dict[str, Any] = {"interval": FLUX_INTERVAL, "sourceRef": {"kind": "GitRepository", "name": source},
                              "prune": value.gitops.prune}
    # prepare/ holds the warm-up Jobs: wait for them (Flux's health checks count a Job when complete) before serve
    api_object(scope, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", Meta(prepare, labels=(MANAGED,)),
               spec={**common, "path": f"./out/{value.environment}/prepare", "wait": True,
                     "timeout": f"{value.prepare_timeout_seconds}s"})
    api_object(scope, "kustomize.toolkit.fluxcd.io/v1", "Kustomization", Meta(serve, labels=(MANAGED,)),
               spec={**common, "path": f"./out/{value.environment}/serve", "dependsOn": [{"name": prepare}]})
