"""Facts of Istio's ambient mode that several decisions read (istio.io docs ambient/usage: networkpolicy,
waypoint; istio pilot/pkg/config/kube/gatewaycommon)."""

from __future__ import annotations

from . import naming

# ambient carries pod-to-pod traffic over HBONE, an mTLS tunnel into the destination pod on this port: a
# NetworkPolicy in an ambient namespace must admit it besides the application's ports
HBONE_PORT = 15008
# istio-cni rewrites kubelet probes to a pod in ambient mode to come from this link-local address, which an
# explicit NetworkPolicy blocks unless it admits it ("Ambient and Kubernetes NetworkPolicy")
KUBELET_PROBE_CIDR = "169.254.7.127/32"
# `istioctl waypoint apply` makes a Gateway of class istio-waypoint with one HBONE listener on 15008; its pods
# carry the Gateway's name in this label, and its service account is the Gateway's name (the waypoint class
# adds no "-<class>" suffix: gatewaycommon classinfo.go DisableNameSuffix)
WAYPOINT_CLASS = "istio-waypoint"
WAYPOINT_LISTENER = "mesh"
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"


def principal(trust_domain: str, namespace: str, service_account: str) -> str:
    """The SPIFFE identity a workload presents in mTLS, as AuthorizationPolicy principals spell it."""
    return f"{trust_domain}/ns/{namespace}/sa/{service_account}"


def waypoint_principal(trust_domain: str, namespace: str) -> str:
    return principal(trust_domain, namespace, naming.WAYPOINT)
