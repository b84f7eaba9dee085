"""The service mesh: which namespaces join Istio, how their pods get a proxy, and what keeps working under it.

A namespace joins the mesh when it holds a workload whose access needs a token: its JWT policies are enforced
by a proxy, so without one they would enforce nothing (KServe's Standard mode injects no sidecar itself).
- sidecar: the namespace is labelled for injection (`istio-injection: enabled`, or `istio.io/rev` for a
  revision; istio.io docs setup/additional-setup/sidecar-injection). Pods that must finish (the warm-up Job)
  opt out; pods whose KServe storage initializer downloads before the server ask for a native sidecar, so the
  proxy already runs when the initializer's traffic is redirected to it.
- ambient: the namespace joins ztunnel (`istio.io/dataplane-mode: ambient`) and a waypoint enforces the L7 JWT
  rules for the predictor Service; the ingress gateway is told to pass through it (`istio.io/ingress-use-waypoint`).
A Prometheus or KEDA interceptor outside the mesh talks plain text: the workload's ports accept it
(port-level PERMISSIVE), and the JWT rules still guard the API on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..inputs.load import Document
from ..model import Environment, Labels, Meta, PeerPolicy, Waypoint, labels_of
from . import naming
from .environment import at_least

TOKEN_KINDS = ("authenticated", "groups", "users")
NATIVE_SIDECAR = ("sidecar.istio.io/nativeSidecar", "true")


@dataclass(frozen=True)
class NamespaceTraits:
    """What a project's workloads ask of their namespace, read from their documents before they resolve."""

    meshed: bool                         # a workload needs a token: its policies need a proxy
    storage_initializer: bool            # KServe injects its storage initializer into some pod (uri stores)


def namespace_traits(workloads: list[Document]) -> dict[str, NamespaceTraits]:
    found: dict[str, NamespaceTraits] = {}
    for doc in workloads:
        project = doc.data["metadata"]["project"]
        spec = doc.data["spec"]
        old = found.get(project, NamespaceTraits(False, False))
        found[project] = NamespaceTraits(
            old.meshed or spec.get("access", {}).get("type") in TOKEN_KINDS,
            old.storage_initializer or "uri" in spec.get("store", {}))
    return found


def namespace_labels(env: Environment, traits: NamespaceTraits) -> Labels:
    if not traits.meshed:
        return ()
    if env.mesh.mode == "ambient":
        return labels_of({"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": naming.WAYPOINT,
                          "istio.io/ingress-use-waypoint": "true"})
    if env.mesh.revision:
        return (("istio.io/rev", env.mesh.revision),)
    return (("istio-injection", "enabled"),)


def waypoint(env: Environment, traits: NamespaceTraits) -> Waypoint | None:
    if traits.meshed and env.mesh.mode == "ambient":
        return Waypoint(Meta(naming.WAYPOINT, labels=(("istio.io/waypoint-for", "service"),)))
    return None


def pod_annotations(env: Environment, meshed: bool, uses_storage_initializer: bool) -> Labels:
    if meshed and env.mesh.mode == "sidecar" and uses_storage_initializer:
        return (NATIVE_SIDECAR,)
    return ()


def native_sidecars(env: Environment) -> bool:
    """Kubernetes runs init containers with restartPolicy Always (native sidecars) by default from 1.29."""
    return at_least(env.kubernetes_version, (1, 29))


def peer_policy(workload: str, meshed: bool, ports: tuple[int, ...]) -> PeerPolicy | None:
    if not meshed:
        return None
    return PeerPolicy(Meta(naming.peer_authentication(workload)), naming.pod_selector(workload), ports)
