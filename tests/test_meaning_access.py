"""What each access level means on a cluster, read from the objects a build wrote, as the controllers that read
them do: which namespaces the CNI lets open connections to the predictor pods on which ports (every
NetworkPolicy selecting the pods, added up), whether KServe and Knative keep the endpoint cluster-local, which
Istio policies validate and require a token and what they are bound to, and which namespaces join the mesh.

One repository, built once: every access level in a Standard-mode environment with sidecars, a Knative one
(sidecars of a mesh revision) and a Standard one in an ambient mesh. Each access level has a project (namespace)
of its own, so what a namespace gets shows what that level asks of it; one cluster-local workload shares the
namespace of an authenticated one."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from conftest import run
from meaning import ONE_GPU, Objects, add_environment, add_project, add_workload, bare_repo, out_objects, replicas

GATEWAY, MONITORING, KNATIVE = "istio-system", "monitoring", "knative-serving"   # the fixture's base environment
NIM_PORT, QUEUE_PROXY, KNATIVE_PROBES, KNATIVE_SCRAPE = 8000, 8012, 8022, 9090
HBONE, AMBIENT_PROBES = 15008, "169.254.7.127/32"   # Istio ambient's tunnel port and kubelet probe source
ISVC_LABEL = "serving.kserve.io/inferenceservice"      # KServe's label on every predictor pod
NAMESPACE_NAME = "kubernetes.io/metadata.name"
VISIBILITY = ("networking.kserve.io/visibility", "networking.knative.dev/visibility")

ENVIRONMENTS = {
    "std": {"kserve": {"deploymentMode": "Standard"}, "mesh": {"mode": "sidecar"}},
    "kn": {"kserve": {"deploymentMode": "Knative"}, "autoscaling": {"backend": "knative"},
           "mesh": {"mode": "sidecar", "revision": "1-30"}},
    "amb": {"kserve": {"deploymentMode": "Standard"}, "mesh": {"mode": "ambient"}},
}
KNATIVE_ENVS = {"kn"}
AMBIENT_ENVS = {"amb"}
# workload -> (spec.access, project)
WORKLOADS = {
    "local": ({"type": "clusterLocal"}, "local"),
    "public": ({"type": "public"}, "public"),
    "inner": ({"type": "clusterLocal"}, "authn"),
    "authn": ({"type": "authenticated"}, "authn"),
    "groups": ({"type": "groups", "groups": ["ml-research", "ops"]}, "groups"),
    "users": ({"type": "users", "users": ["alice@example.com", "bob@example.com"]}, "users"),
}
TOKEN = {"authn", "groups", "users"}
PROJECTS = sorted({project for _, project in WORKLOADS.values()})
MESHED = {project for name, (_, project) in WORKLOADS.items() if name in TOKEN}
EXPOSED = {"public"} | TOKEN
MATRIX = [(env, name) for env in ENVIRONMENTS for name in WORKLOADS]
TOKEN_MATRIX = [(env, name) for env, name in MATRIX if name in TOKEN]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Objects]:
    root = bare_repo(tmp_path_factory.mktemp("access") / "repo")
    for env, spec in ENVIRONMENTS.items():
        add_environment(root, env, {**spec, "policy": {"allowPublicEndpoints": True}})
        for project in PROJECTS:
            add_project(root, env, project, {"gpus": 8})
        for name, (access, project) in WORKLOADS.items():
            add_workload(root, env, project, name, {**ONE_GPU, "access": access, "scaling": replicas(1)})
    result = run(root, "build")
    assert result.exit_code == 0, result.stderr
    return {env: Objects(out_objects(root, env)) for env in ENVIRONMENTS}


def project_of(name: str) -> str:
    return WORKLOADS[name][1]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"a selector this test does not read: {selector}"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def admitted(objects: Objects, name: str) -> dict[int, set[str]]:
    """Port -> namespaces allowed to connect to the workload's pods, over every NetworkPolicy that selects them."""
    pods = {ISVC_LABEL: name}
    found: dict[int, set[str]] = defaultdict(set)
    policies = [p for p in objects.of("NetworkPolicy", project_of(name)) if selects(p["spec"]["podSelector"], pods)]
    assert any(p["spec"]["podSelector"] == {"matchLabels": pods} for p in policies), "no policy of the workload's own"
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"].get("ingress", []):
            assert rule.get("from") and rule.get("ports"), f"a rule admitting any source or any port: {rule}"
            namespaces = set()
            for peer in rule["from"]:
                if set(peer) == {"ipBlock"}:        # an address range: recorded as ip:<cidr>
                    assert set(peer["ipBlock"]) == {"cidr"}
                    namespaces.add(f"ip:{peer['ipBlock']['cidr']}")
                    continue
                assert set(peer) == {"namespaceSelector"}, f"a peer this test does not read: {peer}"
                (key, namespace), = peer["namespaceSelector"]["matchLabels"].items()
                assert key == NAMESPACE_NAME        # set by Kubernetes on every Namespace: one namespace by name
                namespaces.add(namespace)
            for port in rule["ports"]:
                assert port.get("protocol", "TCP") == "TCP"
                found[port["port"]] |= namespaces
    return dict(found)


L7_SOURCE, L7_OPERATION = {"requestPrincipals", "notRequestPrincipals"}, {"paths", "notPaths", "methods", "notMethods"}


def l4_only(policy: dict[str, Any]) -> bool:
    """An AuthorizationPolicy ztunnel can enforce: it names identities and ports, never tokens, paths or methods."""
    rules = policy["spec"].get("rules", [])
    return policy["kind"] == "AuthorizationPolicy" and not any(
        set(f.get("source", {})) & L7_SOURCE for r in rules for f in r.get("from", [])) and not any(
        set(t.get("operation", {})) & L7_OPERATION for r in rules for t in r.get("to", [])) and not any(
        "when" in r for r in rules)


def istio_policies(objects: Objects, name: str, kind: str, l4: bool = False) -> list[dict[str, Any]]:
    """The Istio policies of `kind` that apply to the workload: by pod selector, or on its predictor Service (the
    L4 ones ztunnel enforces when l4, else the others)."""
    bound = []
    for policy in objects.of(kind, project_of(name)):
        if l4_only(policy) != l4:
            continue
        spec = policy["spec"]
        if "selector" in spec and selects(spec["selector"], {ISVC_LABEL: name}):
            bound.append(policy)
        elif any(ref.get("kind") == "Service" and ref.get("name") == f"{name}-predictor"
                 for ref in spec.get("targetRefs", [])):
            bound.append(policy)
    return bound


# -- the NetworkPolicy: who may open connections to the predictor pods


@pytest.mark.parametrize(("env", "name"), [m for m in MATRIX if m[0] not in KNATIVE_ENVS])
def test_standard_mode_admits_the_project_and_monitoring_and_the_gateway_only_for_exposed_endpoints(out, env, name):
    expected = {project_of(name), MONITORING} | ({GATEWAY} if name in EXPOSED else set())
    if env in AMBIENT_ENVS and project_of(name) in MESHED:
        # ambient tunnels meshed callers (the waypoint, Prometheus) over HBONE, and sends kubelet probes from
        # its link-local address
        assert admitted(out[env], name) == {NIM_PORT: expected | {f"ip:{AMBIENT_PROBES}"}, HBONE: expected}
    else:
        assert admitted(out[env], name) == {NIM_PORT: expected}


@pytest.mark.parametrize(("env", "name"), [m for m in MATRIX if m[0] in KNATIVE_ENVS])
def test_knative_mode_admits_callers_on_the_queue_proxy_and_monitoring_alone_on_the_nim_port(out, env, name):
    # every caller, cluster-local ones too, passes a Knative gateway (in the gateway namespace) or the activator
    assert admitted(out[env], name) == {
        NIM_PORT: {MONITORING},
        QUEUE_PROXY: {project_of(name), GATEWAY, KNATIVE},
        KNATIVE_PROBES: {KNATIVE},
        KNATIVE_SCRAPE: {KNATIVE},
    }


def test_the_gateway_reaches_a_public_endpoint_in_every_mode(out):
    for env in ENVIRONMENTS:
        port = QUEUE_PROXY if env in KNATIVE_ENVS else NIM_PORT
        assert GATEWAY in admitted(out[env], "public")[port], env


# -- KServe's and Knative's routes: cluster-local exactly when the workload is


@pytest.mark.parametrize(("env", "name"), MATRIX)
def test_only_cluster_local_workloads_carry_both_visibility_labels(out, env, name):
    labels = out[env].get("InferenceService", name, project_of(name))["metadata"].get("labels", {})
    if name in EXPOSED:
        assert not set(VISIBILITY) & set(labels)
    else:
        assert {k: labels.get(k) for k in VISIBILITY} == dict.fromkeys(VISIBILITY, "cluster-local")


# -- Istio: a token is validated and required where the access level says so


@pytest.mark.parametrize(("env", "name"), [m for m in MATRIX if m[1] not in TOKEN])
def test_endpoints_without_token_access_have_no_jwt_policies(out, env, name):
    for kind in ("RequestAuthentication", "AuthorizationPolicy"):
        assert istio_policies(out[env], name, kind) == []


@pytest.mark.parametrize(("env", "name"), TOKEN_MATRIX)
def test_token_access_validates_tokens_of_the_identity_provider(out, env, name):
    (authn,) = istio_policies(out[env], name, "RequestAuthentication")
    assert authn["spec"]["jwtRules"] == [{"issuer": "https://sso.example.com", "jwksUri": "https://sso.example.com/jwks"}]


@pytest.mark.parametrize(("env", "name"), TOKEN_MATRIX)
def test_sidecars_enforce_the_jwt_policies_on_the_pods_and_the_waypoint_on_the_predictor_service(out, env, name):
    for kind in ("RequestAuthentication", "AuthorizationPolicy"):
        (policy,) = istio_policies(out[env], name, kind)
        spec = policy["spec"]
        if env in AMBIENT_ENVS:
            # an L7 policy bound by selector would make ztunnel drop all traffic
            assert "selector" not in spec
            assert spec["targetRefs"] == [{"group": "", "kind": "Service", "name": f"{name}-predictor"}]
        else:
            assert "targetRefs" not in spec
            assert spec["selector"] == {"matchLabels": {ISVC_LABEL: name}}


@pytest.mark.parametrize(("env", "name"), TOKEN_MATRIX)
def test_a_request_needs_a_token_and_for_groups_and_users_the_claim_value(out, env, name):
    (policy,) = istio_policies(out[env], name, "AuthorizationPolicy")
    assert policy["spec"]["action"] == "ALLOW"
    (rule,) = [r for r in policy["spec"]["rules"] if any(f["source"].get("requestPrincipals") == ["*"] for f in r["from"])]
    assert "to" not in rule                   # the whole API, for a caller with a token
    claim = {"authn": None,
             "groups": {"key": "request.auth.claims[groups]", "values": ["ml-research", "ops"]},
             "users": {"key": "request.auth.claims[email]", "values": ["alice@example.com", "bob@example.com"]}}[name]
    assert rule.get("when") == (None if claim is None else [claim])


@pytest.mark.parametrize(("env", "name"), TOKEN_MATRIX)
def test_without_a_token_only_the_scrape_and_knatives_probes_pass(out, env, name):
    (policy,) = istio_policies(out[env], name, "AuthorizationPolicy")
    tokenless = [r for r in policy["spec"]["rules"]
                 if not any(f["source"].get("requestPrincipals") for f in r["from"])]
    expected = [{"from": [{"source": {"notNamespaces": [GATEWAY]}}],               # not from the internet
                 "to": [{"operation": {"methods": ["GET"], "paths": ["/v1/metrics"]}}]}]
    if env in KNATIVE_ENVS:
        expected.append({"from": [{"source": {"namespaces": [KNATIVE]}}],
                         "to": [{"operation": {"paths": ["/healthz", "/metrics"]}}]})
    assert tokenless == expected


# -- the mesh: a namespace holding token access gets a proxy that enforces it


def namespace_labels(out: dict[str, Objects], env: str, project: str) -> dict[str, str]:
    return out[env].get("Namespace", project)["metadata"]["labels"]


MESH_LABELS = {"istio-injection", "istio.io/rev", "istio.io/dataplane-mode", "istio.io/use-waypoint",
               "istio.io/ingress-use-waypoint"}


@pytest.mark.parametrize(("env", "project"), [(env, p) for env in ENVIRONMENTS for p in PROJECTS if p not in MESHED])
def test_namespaces_without_token_access_stay_out_of_the_mesh(out, env, project):
    assert not MESH_LABELS & set(namespace_labels(out, env, project))
    assert out[env].of("Gateway", project) == [] and out[env].of("PeerAuthentication", project) == []


@pytest.mark.parametrize("project", sorted(MESHED))
def test_sidecars_are_injected_by_the_default_label_or_for_the_mesh_revision(out, project):
    std, kn = namespace_labels(out, "std", project), namespace_labels(out, "kn", project)
    assert {k: v for k, v in std.items() if k in MESH_LABELS} == {"istio-injection": "enabled"}
    assert {k: v for k, v in kn.items() if k in MESH_LABELS} == {"istio.io/rev": "1-30"}


@pytest.mark.parametrize("project", sorted(MESHED))
def test_an_ambient_namespace_joins_ztunnel_and_uses_its_own_waypoint(out, project):
    labels = namespace_labels(out, "amb", project)
    assert {k: v for k, v in labels.items() if k in MESH_LABELS} == {
        "istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "waypoint", "istio.io/ingress-use-waypoint": "true"}
    (waypoint,) = out["amb"].of("Gateway", project)
    assert waypoint["metadata"]["name"] == labels["istio.io/use-waypoint"]
    assert waypoint["spec"]["gatewayClassName"] == "istio-waypoint"
    assert [(x["port"], x["protocol"]) for x in waypoint["spec"]["listeners"]] == [(15008, "HBONE")]


@pytest.mark.parametrize(("env", "name"), [m for m in MATRIX if project_of(m[1]) in MESHED])
def test_meshed_workloads_take_plain_text_on_every_port_monitoring_or_knative_scrapes(out, env, name):
    peers = out[env].of("PeerAuthentication", project_of(name))
    (peer,) = [p for p in peers if selects(p["spec"]["selector"], {ISVC_LABEL: name})]
    permissive = {int(port) for port, mtls in peer["spec"]["portLevelMtls"].items() if mtls == {"mode": "PERMISSIVE"}}
    assert permissive == ({NIM_PORT, QUEUE_PROXY} if env in KNATIVE_ENVS else {NIM_PORT})


# -- ambient: nothing reaches a token workload's pods past its waypoint


@pytest.mark.parametrize("name", sorted(TOKEN))
def test_ztunnel_admits_only_the_waypoint_and_prometheus_scrape_to_ambient_token_pods(out, name):
    (guard,) = istio_policies(out["amb"], name, "AuthorizationPolicy", l4=True)
    namespace = project_of(name)
    assert guard["spec"]["selector"] == {"matchLabels": {ISVC_LABEL: name}} and guard["spec"]["action"] == "ALLOW"
    assert guard["spec"]["rules"] == [
        # the waypoint's service account is its Gateway's name; it forwards only what the token rules allowed
        {"from": [{"source": {"principals": [f"cluster.local/ns/{namespace}/sa/waypoint"]}}]},
        # Prometheus, enrolled in the mesh, by its namespace's identity, on NIM's port only
        {"from": [{"source": {"namespaces": [MONITORING]}}], "to": [{"operation": {"ports": [str(NIM_PORT)]}}]}]


@pytest.mark.parametrize("project", sorted(MESHED))
def test_the_waypoint_pods_take_hbone_from_the_gateway_and_their_namespace(out, project):
    policies = [p for p in out["amb"].of("NetworkPolicy", project)
                if p["spec"]["podSelector"] == {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "waypoint"}}]
    (policy,) = policies
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": HBONE, "protocol": "TCP"}]
    assert {p["namespaceSelector"]["matchLabels"][NAMESPACE_NAME] for p in rule["from"]} == {GATEWAY, project}


@pytest.mark.parametrize(("env", "name"), [m for m in MATRIX if m[0] not in AMBIENT_ENVS])
def test_outside_ambient_no_l4_policy_guards_the_pods(out, env, name):
    assert istio_policies(out[env], name, "AuthorizationPolicy", l4=True) == []
