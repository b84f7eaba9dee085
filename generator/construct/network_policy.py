"""The NetworkPolicy that says which namespaces (or pods of them, or addresses) may open connections to a
workload's pods."""

from __future__ import annotations

from typing import Any, assert_never

from constructs import Construct

from ..model import AddressPeer, IngressPolicy, NamespacePeer, Peer
from .base import api_object, match_labels

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"   # set by Kubernetes on every Namespace


def peer(value: Peer) -> dict[str, Any]:
    match value:
        case NamespacePeer(namespace=namespace, pod_labels=pod_labels):
            found = {"namespaceSelector": match_labels(((NAMESPACE_NAME_LABEL, namespace),))}
            if pod_labels:               # one peer with both selectors: those pods of that namespace only
                found["podSelector"] = match_labels(pod_labels)
            return found
        case AddressPeer(cidr=cidr):
            return {"ipBlock": {"cidr": cidr}}
        case _:
            assert_never(value)


def ingress_policy(scope: Construct, policy: IngressPolicy) -> None:
    rules = [{"from": [peer(p) for p in rule.peers],
              "ports": [{"port": port, "protocol": "TCP"} for port in rule.ports]} for rule in policy.rules]
    api_object(scope, "networking.k8s.io/v1", "NetworkPolicy", policy.meta,
               spec={"podSelector": match_labels(policy.selector), "policyTypes": ["Ingress"], "ingress": rules})
