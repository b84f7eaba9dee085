"""Outbound network: how the NIM container and its warm-up reach NGC and object stores from a corporate network,
through an HTTP(S) proxy and trusting a CA bundle. Sources: research/issue15-nim-facts.md."""

from __future__ import annotations

from typing import Any

from ..model import CaBundle, ConfigMapVolume, EnvVar, Mount, OutboundNetwork, Proxy

# The proxy variables in both spellings, as the NIM operator sets them (k8s-nim-operator nimservice_types.go
# GetProxyEnv): clients differ in the one they read (curl ignores HTTP_PROXY). NIM's documentation shows
# HTTPS_PROXY for its downloads (NIM for LLMs, "Downloading Behind a Corporate Proxy"); the proxy must let NGC's
# hosts through (authn.nvidia.com, api.ngc.nvidia.com, xfiles.ngc.nvidia.com: "Deploy Behind a TLS Proxy").
# Requests to the pod itself (NIM's API server forwards to its engine on localhost) and to the cluster's own
# Services (an in-cluster object store) must not go through the proxy: those names are always in NO_PROXY.
PROXY_NAMES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
CLUSTER_NO_PROXY = ("localhost", "127.0.0.1", "::1", ".svc", ".cluster.local")
DEFAULT_CA_KEY = "ca-bundle.crt"
CA_VOLUME = "ca-bundle"
CA_DIR = "/etc/nimgen/ca"
CA_FILE = "ca-bundle.crt"


def outbound_of(spec: dict[str, Any], inherited: OutboundNetwork | None = None) -> OutboundNetwork:
    """An Environment's spec.network, or a workload's over its environment's (each of proxy and caBundle replaces
    the inherited one as a whole)."""
    base = inherited or OutboundNetwork()
    proxy, bundle = base.proxy, base.ca_bundle
    if "proxy" in spec:
        given = spec["proxy"]
        own = tuple(given.get("noProxy", ()))
        proxy = Proxy(given.get("http"), given.get("https"),
                      own + tuple(h for h in CLUSTER_NO_PROXY if h not in own))
    if "caBundle" in spec:
        bundle = CaBundle(spec["caBundle"]["configMap"], spec["caBundle"].get("key", DEFAULT_CA_KEY))
    return OutboundNetwork(proxy, bundle)


def proxy_env(network: OutboundNetwork) -> tuple[EnvVar, ...]:
    proxy = network.proxy
    if proxy is None:
        return ()
    found: list[EnvVar] = []
    for name, value in (("HTTP_PROXY", proxy.http), ("HTTPS_PROXY", proxy.https), ("NO_PROXY", ",".join(proxy.no_proxy))):
        if value:
            found += [EnvVar(name, value), EnvVar(name.lower(), value)]
    return tuple(found)


CA_PATH = f"{CA_DIR}/{CA_FILE}"
# NIM's model downloader (the NIM SDK) trusts the system's certificates, not only its own, with
# NIM_SDK_USE_NATIVE_TLS=1, which the NIM operator sets whenever a proxy is given (GetProxyEnv). The bundle is
# mounted read-only (the operator instead rebuilds /etc/ssl in an init container running as root, which Pod
# Security "restricted" forbids), and every client is pointed at it: OpenSSL and Python's ssl read SSL_CERT_FILE,
# requests REQUESTS_CA_BUNDLE, curl CURL_CA_BUNDLE, the AWS SDKs AWS_CA_BUNDLE (NVIDIA's NVCF certificate webhook
# sets the same variables on NIM containers). The bundle replaces the image's trust store for them, so it must
# hold every root the pod needs (a trust-manager Bundle with useDefaultCAs does).
CA_ENV_NAMES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "AWS_CA_BUNDLE")
NATIVE_TLS = EnvVar("NIM_SDK_USE_NATIVE_TLS", "1")


def ca_env(network: OutboundNetwork) -> tuple[EnvVar, ...]:
    native = (NATIVE_TLS,) if network.proxy or network.ca_bundle else ()
    if network.ca_bundle is None:
        return native
    return native + tuple(EnvVar(name, CA_PATH) for name in CA_ENV_NAMES)


def outbound_env(network: OutboundNetwork) -> tuple[EnvVar, ...]:
    return proxy_env(network) + ca_env(network)


def ca_volumes(network: OutboundNetwork) -> tuple[tuple[ConfigMapVolume, ...], tuple[Mount, ...]]:
    bundle = network.ca_bundle
    if bundle is None:
        return (), ()
    return (ConfigMapVolume(CA_VOLUME, bundle.config_map, bundle.key, CA_FILE),), (Mount(CA_VOLUME, CA_DIR, read_only=True),)
