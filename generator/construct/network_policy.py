"""The NetworkPolicy that says which namespaces may open connections to a workload's pods."""

from __future__ import annotations

from constructs import Construct

from ..model import IngressPolicy
from .base import api_object, match_labels

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"   # set by Kubernetes on every Namespace


def ingress_policy(scope: Construct, policy: IngressPolicy) -> None:
    rules = [{"from": [{"namespaceSelector": match_labels(((NAMESPACE_NAME_LABEL, ns),))} for ns in rule.namespaces],
              "ports": [{"port": port, "protocol": "TCP"} for port in rule.ports]} for rule in policy.rules]
    api_object(scope, "networking.k8s.io/v1", "NetworkPolicy", policy.meta,
               spec={"podSelector": match_labels(policy.selector), "policyTypes": ["Ingress"], "ingress": rules})
