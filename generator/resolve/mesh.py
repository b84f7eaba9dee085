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

from typing import assert_never

from ..diagnostics import Diagnostic
from ..inputs.load import Document
from ..model import (Ambient, Environment, IngressPolicy, IngressRule, Labels, Meta, NamespacePeer, PeerPolicy, Sidecar,
                     Waypoint, labels_of)
from . import istio, naming
from .access import access_level
from .storage import uses_storage_initializer

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
        found[project] = NamespaceTraits(old.meshed or access_level(spec).needs_token,
                                         old.storage_initializer or uses_storage_initializer(spec))
    return found


def namespace_labels(env: Environment, traits: NamespaceTraits) -> Labels:
    if not traits.meshed:
        return ()
    match env.mesh:
        case Ambient():
            return labels_of({"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": naming.WAYPOINT,
                              "istio.io/ingress-use-waypoint": "true"})
        case Sidecar(revision=revision) if revision:
            return (("istio.io/rev", revision),)
        case Sidecar():
            return (("istio-injection", "enabled"),)
        case _:
            assert_never(env.mesh)


def waypoint(env: Environment, namespace: str, traits: NamespaceTraits) -> Waypoint | None:
    if traits.meshed and isinstance(env.mesh, Ambient):
        # what `istioctl waypoint apply` creates (istio.io docs ambient/usage/waypoint): class istio-waypoint,
        # one HBONE listener on 15008, serving the namespace's Services. The namespace's default-deny policy
        # isolates its pods too: callers reach it over HBONE from the gateway and the namespace itself.
        ingress = IngressPolicy(Meta(naming.waypoint_ingress_policy()), ((istio.GATEWAY_NAME_LABEL, naming.WAYPOINT),),
                                (IngressRule((NamespacePeer(env.gateway.namespace, env.gateway.pod_labels),
                                              NamespacePeer(namespace)), (istio.HBONE_PORT,)),))
        return Waypoint(Meta(naming.WAYPOINT, labels=(("istio.io/waypoint-for", "service"),)),
                        gateway_class=istio.WAYPOINT_CLASS, listener=istio.WAYPOINT_LISTENER, port=istio.HBONE_PORT,
                        protocol="HBONE", ingress=ingress)
    return None


def needs_native_sidecar(env: Environment, meshed: bool, storage_initializer: bool) -> bool:
    """A storage initializer downloads through the pod's Istio proxy, which must already run: a native sidecar."""
    return meshed and isinstance(env.mesh, Sidecar) and storage_initializer


def pod_annotations(env: Environment, meshed: bool, storage_initializer: bool) -> Labels:
    return (NATIVE_SIDECAR,) if needs_native_sidecar(env, meshed, storage_initializer) else ()


def privileged_init(env: Environment, meshed: bool) -> bool:
    """Classic sidecar injection without Istio's CNI adds istio-init, which needs NET_ADMIN and NET_RAW."""
    return meshed and isinstance(env.mesh, Sidecar) and not env.mesh.cni


def pod_security_problems(doc: Document, env: Environment, traits: dict[str, NamespaceTraits]) -> list[Diagnostic]:
    """Without Istio's CNI agent a meshed namespace must admit istio-init, i.e. enforce Pod Security privileged:
    a choice the environment states (spec.mesh.podSecurity), never one nimgen makes silently."""
    meshed = sorted(project for project, t in traits.items() if privileged_init(env, t.meshed))
    if not meshed or not isinstance(env.mesh, Sidecar) or env.mesh.privileged:
        return []
    return [doc.diagnostic(("spec", "mesh"), f"in environment {env.name}, project(s) {', '.join(meshed)} need the Istio sidecar for token "
                           "access, and without Istio's CNI agent its istio-init container needs NET_ADMIN and "
                           "NET_RAW, which only Pod Security privileged admits",
                           "set mesh.cni: true if Istio runs its CNI node agent, or accept privileged "
                           "namespaces with mesh.podSecurity: privileged")]


def peer_policy(workload: str, meshed: bool, ports: tuple[int, ...]) -> PeerPolicy | None:
    if not meshed:
        return None
    return PeerPolicy(Meta(naming.peer_authentication(workload)), naming.pod_selector(workload), ports)
