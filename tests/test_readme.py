"""What out/<env>/README.md tells a reviewer, read from the page a build wrote: per workload who may call it (the
groups or users a token must carry, or that any token, none, or only the cluster will do), its autoscaler with
the metric and target it compares, its GPUs times its replicas, the URL KServe answers at from outside the cluster
(KServe's default domainTemplate `{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}` over http in Standard mode;
Knative's `{{.Name}}.{{.Namespace}}.{{.Domain}}` of the predictor route, less `-predictor`, in Knative mode; nothing
where the environment declares no domain) and the address callers inside the cluster use (the `<name>-predictor`
Service on port 80, or the wake Service of a KEDA HTTP add-on workload); per project its quotas and its GPUs at
minReplicas and at peak, in a table and in a Mermaid chart.

One repository, built once: `std` (Standard mode, KEDA, scale from zero through the KEDA HTTP add-on, an ingress
domain), `bare` (Standard mode, HPA, no ingress domain) and `kn` (Knative mode, an ingress domain)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from conftest import run
from meaning import ONE_GPU, TWO_GPUS, add_environment, add_project, add_workload, bare_repo, replicas

DOMAIN = "models.example.org"
ISSUER = "https://sso.example.com"         # the fixture's base identity provider
POLICY = {"allowPublicEndpoints": True, "autoTolerateTaints": True}
WAKE_PORT = 8080                           # the KEDA HTTP add-on's interceptor proxy port


def autoscaled(low: int, high: int, metric: str, target: float, **extra: Any) -> dict[str, Any]:
    return {"minReplicas": low, "maxReplicas": high, "metric": metric, "target": target, **extra}


LOCAL, PUBLIC, AUTHENTICATED = {"type": "clusterLocal"}, {"type": "public"}, {"type": "authenticated"}

ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "std": {"kserve": {"deploymentMode": "Standard"},
            "autoscaling": {"backend": "keda", "scaleFromZero": {"via": "keda-http"}},
            "ingress": {"gatewayNamespace": "istio-system", "domain": DOMAIN}, "policy": POLICY},
    "bare": {"kserve": {"deploymentMode": "Standard"}, "autoscaling": {"backend": "hpa"}, "policy": POLICY},
    "kn": {"kserve": {"deploymentMode": "Knative"},
           "autoscaling": {"backend": "knative", "scaleFromZero": {"via": "knative"}},
           "ingress": {"gatewayNamespace": "istio-system", "domain": DOMAIN}},
}
# environment -> project -> (spec.quota, the rest of spec), in the order written: `team` before `lab`, so that
# the chart's order is its own (by name), not the order the projects were found in
PROJECTS: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    "std": {"team": ({"gpus": 4, "cpu": "16", "memory": "64Gi", "workloads": 5}, {"overQuota": {"gpuLimit": 8}}),
            "lab": ({"gpus": 6}, {})},
    "bare": {"solo": ({"gpus": 4}, {})},
    "kn": {"team": ({"gpus": 8}, {})},
}
# environment -> workload -> (project, spec beyond ONE_GPU)
WORKLOADS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "std": {
        "grouped": ("team", {"access": {"type": "groups", "groups": ["ml-team", "eval"]},
                             "scaling": autoscaled(1, 3, "concurrency", 8)}),
        "local": ("team", {"access": LOCAL, "scaling": replicas(1)}),
        "sleepy": ("team", {"access": LOCAL,
                            "scaling": autoscaled(0, 3, "concurrency", 4, scaleToZero={"afterSeconds": 300})}),
        "named": ("lab", {"access": {"type": "users", "users": ["alice@example.com"]}, "scaling": replicas(1)}),
        "open": ("lab", {"access": PUBLIC, "scaling": replicas(1)}),
        "tokened": ("lab", {"access": AUTHENTICATED, "scaling": autoscaled(1, 2, "latency", 500)}),
    },
    "bare": {
        "pub": ("solo", {"access": PUBLIC, "scaling": autoscaled(1, 2, "concurrency", 8)}),
        "quiet": ("solo", {**TWO_GPUS, "access": LOCAL, "scaling": replicas(1)}),
    },
    "kn": {
        "kn": ("team", {"access": AUTHENTICATED, "scaling": autoscaled(1, 3, "concurrency", 2.5)}),
        "kn-zero": ("team", {"access": LOCAL,
                             "scaling": autoscaled(0, 2, "throughput", 7.2, scaleToZero={"afterSeconds": 120})}),
    },
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("readme") / "repo")
    for env, spec in ENVIRONMENTS.items():
        add_environment(root, env, spec)
        for project, (quota, rest) in PROJECTS[env].items():
            add_project(root, env, project, quota, **rest)
        for name, (project, workload) in WORKLOADS[env].items():
            add_workload(root, env, project, name, {**ONE_GPU, **workload})
    result = run(root, "build", *(f"--env={env}" for env in ENVIRONMENTS))
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture(scope="module")
def page(built: Path) -> dict[str, str]:
    return {env: (built / "out" / env / "README.md").read_text() for env in ENVIRONMENTS}


def section(text: str, title: str) -> str:
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def table(text: str, title: str) -> dict[str, dict[str, str]]:
    """The first table of a section: its rows by their first cell, each row's cells by the header's names."""
    lines = [line for line in section(text, title).splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    header, rows = cells[0], cells[2:]
    return {row[0]: dict(zip(header, row)) for row in rows}


def endpoints(page: dict[str, str], env: str) -> dict[str, dict[str, str]]:
    return table(page[env], "Endpoints")


def workloads(page: dict[str, str], env: str) -> dict[str, dict[str, str]]:
    return table(page[env], "Workloads")


# -- who may call a workload


def test_a_groups_or_users_workload_names_the_claim_values_a_token_must_carry(page):
    assert endpoints(page, "std")["grouped"]["who may call"] == "groups: `ml-team`, `eval` (token claim `groups`)"
    assert endpoints(page, "std")["named"]["who may call"] == "users: `alice@example.com` (token claim `email`)"


def test_authenticated_public_and_cluster_local_access_are_stated_plainly(page):
    std = endpoints(page, "std")
    assert std["tokened"]["who may call"] == f"authenticated: any valid token of {ISSUER}"
    assert std["open"]["who may call"] == "public: anyone, no token"
    # its NetworkPolicy admits its own namespace only (Standard mode)
    assert std["local"]["who may call"] == "clusterLocal: pods of namespace `team` only"
    # only the KEDA HTTP add-on's interceptor reaches a workload that wakes through it
    assert std["sleepy"]["who may call"] == "clusterLocal: callers in the cluster, through the wake address only"
    assert endpoints(page, "kn")["kn-zero"]["who may call"] == \
        "clusterLocal: callers in the cluster, through Knative's local gateway"


# -- how it scales, on what


@pytest.mark.parametrize(("env", "name", "scaling"), [
    ("std", "grouped", "keda: concurrency 8 per replica"),
    ("std", "tokened", "keda: latency 500 (a level, not per replica)"),     # a Value trigger
    ("std", "sleepy", f"keda-http: concurrency 4 per replica, to zero after 300s idle, call `sleepy-wake.team:{WAKE_PORT}`"),
    ("std", "local", "fixed"),
    ("bare", "pub", "hpa: num_requests_running 8 per replica"),              # the podsMetric the HPA reads
    ("kn", "kn", "knative: concurrency 3 per replica"),                      # the KPA counts whole requests
    ("kn", "kn-zero", "knative: rps 8 per replica, to zero after 120s idle"),
])
def test_the_scaling_names_the_backend_its_metric_and_target(page, env, name, scaling):
    assert workloads(page, env)[name]["scaling"] == scaling


@pytest.mark.parametrize(("env", "name", "gpus"), [
    ("std", "grouped", "1 × 1-3"), ("std", "sleepy", "1 × 0-3"), ("std", "local", "1 × 1"), ("bare", "quiet", "2 × 1"),
])
def test_the_gpus_of_a_replica_times_its_replicas(page, env, name, gpus):
    assert workloads(page, env)[name]["GPUs × replicas"] == gpus


# -- where it answers


OUTSIDE, INSIDE = "URL from outside the cluster", "address inside the cluster"


def test_an_exposed_standard_workload_answers_at_kserves_default_host_under_the_declared_domain(page):
    std = endpoints(page, "std")
    assert std["grouped"][OUTSIDE] == f"http://grouped-team.{DOMAIN}"
    assert std["open"][OUTSIDE] == f"http://open-lab.{DOMAIN}"
    assert std["local"][OUTSIDE] == "none (cluster-local)"
    assert "`{{ .Name }}-{{ .Namespace }}.{{ .IngressDomain }}`" in section(page["std"], "Endpoints")


def test_an_exposed_knative_workload_answers_at_its_routes_host_without_predictor(page):
    assert endpoints(page, "kn")["kn"][OUTSIDE] == f"http://kn.team.{DOMAIN} (Knative's route)"
    assert "`{{.Name}}.{{.Namespace}}.{{.Domain}}`" in section(page["kn"], "Endpoints")


def test_without_a_declared_domain_the_page_says_so_and_invents_no_host(page):
    bare = endpoints(page, "bare")
    assert bare["pub"][OUTSIDE] == "exposed; the domain is not declared (spec.ingress.domain)"
    assert bare["quiet"][OUTSIDE] == "none (cluster-local)"
    assert "declares no ingress domain" in section(page["bare"], "Endpoints")
    assert not re.search(r"http://pub[-.]solo\.", page["bare"])


def test_every_workload_has_its_address_inside_the_cluster(page):
    std, kn = endpoints(page, "std"), endpoints(page, "kn")
    # KServe's predictor Service, port 80; exposed or not
    assert std["grouped"][INSIDE] == "http://grouped-predictor.team.svc.cluster.local"
    assert std["local"][INSIDE] == "http://local-predictor.team.svc.cluster.local"
    # the wake Service the interceptor routes, on its port
    assert std["sleepy"][INSIDE] == f"http://sleepy-wake.team:{WAKE_PORT}"
    # Knative's route Service of the predictor Knative Service
    assert kn["kn-zero"][INSIDE] == "http://kn-zero-predictor.team.svc.cluster.local"


# -- the projects' numbers


def test_the_project_table_has_each_quota_and_the_gpus_at_min_replicas_and_at_peak(page):
    rows = table(page["std"], "Projects")
    # team: grouped 1 x 1-3, local 1 x 1, sleepy 1 x 0-3
    assert {k: rows["team"][k] for k in ("workloads", "GPU quota", "GPU limit", "GPUs guaranteed", "GPUs at peak",
                                         "CPU quota", "memory quota")} == {
        "workloads": "3 of 5", "GPU quota": "4", "GPU limit": "8", "GPUs guaranteed": "2", "GPUs at peak": "7",
        "CPU quota": "16", "memory quota": "64Gi"}
    # lab: named 1 x 1, open 1 x 1, tokened 1 x 1-2; no limit given: the quota
    assert {k: rows["lab"][k] for k in ("workloads", "GPU quota", "GPU limit", "GPUs guaranteed", "GPUs at peak",
                                        "CPU quota", "memory quota")} == {
        "workloads": "3", "GPU quota": "6", "GPU limit": "6", "GPUs guaranteed": "3", "GPUs at peak": "4",
        "CPU quota": "-", "memory quota": "-"}


def chart(text: str) -> list[str]:
    (block,) = re.findall(r"```mermaid\n(.*?)```", text, re.S)
    return [line.strip() for line in block.splitlines()]


def test_the_chart_stacks_each_projects_guaranteed_peak_and_quota_sorted_by_name(page):
    lines = chart(section(page["std"], "Projects"))
    body = lines[lines.index("xychart-beta horizontal"):]
    assert body[2:] == [
        'x-axis ["lab", "team"]',
        'y-axis "GPUs" 0 --> 7',   # the longest bar: team's peak
        "bar [0, 7]",        # drawn first: the peak where it passes the quota (team's 7 over 4)
        "bar [6, 4]",        # the quota: its part past the peak shows (lab's 4 of 6)
        "bar [4, 4]",        # the peak up to the quota
        "bar [3, 2]",        # drawn last: the GPUs at minReplicas
    ]


def test_the_chart_is_one_that_github_renders_with_numbers_written_plainly(page):
    lines = chart(page["bare"])
    assert lines[:1] == ["---"] and "xychart-beta horizontal" in lines
    # solo: pub 1 x 1-2, quiet 2 x 1, quota 4
    assert [line for line in lines if line.startswith(("x-axis", "y-axis", "bar"))] == [
        'x-axis ["solo"]', 'y-axis "GPUs" 0 --> 4', "bar [0]", "bar [4]", "bar [4]", "bar [3]"]
