"""Who may open connections to which pods: the model of a NetworkPolicy's ingress rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .common import Labels, Meta


@dataclass(frozen=True)
class NamespacePeer:
    """Pods of a namespace: all of them, or those carrying pod_labels."""

    namespace: str
    pod_labels: Labels = ()


@dataclass(frozen=True)
class AddressPeer:
    """Connections from an address range (e.g. kubelet probes, which ambient ztunnel sends from a fixed address)."""

    cidr: str


Peer = Union[NamespacePeer, AddressPeer]


@dataclass(frozen=True)
class IngressRule:
    peers: tuple[Peer, ...]
    ports: tuple[int, ...]

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(p.namespace for p in self.peers if isinstance(p, NamespacePeer))


@dataclass(frozen=True)
class IngressPolicy:
    """The NetworkPolicy of the predictor pods: which namespaces may open connections to which ports."""

    meta: Meta
    selector: Labels
    rules: tuple[IngressRule, ...]
