"""`nimgen explain`, what it adds to the effective spec: whom a workload's access admits (the groups or users,
and the token claim they are read from), the rejected profiles grouped by reason (one line per reason, naming
every profile it rules out, each profile once), and an unknown workload refused with the workloads that exist.

One repository: environment `e` (an H100 pool) with a workload per access level and one whose automatic profile
choice rejects most of a 54-profile catalog version; environment `other` with a workload of its own."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from meaning import ONE_GPU, add_environment, add_project, add_workload, bare_repo, replicas
from nimgen import usecases
from nimgen.model import Jwt, Rejection
from nimgen.report.explain import explain_workload

H100 = {"name": "h100", "gpu": {"product": "NVIDIA-H100-80GB-HBM3", "perNode": 8, "memory": "80Gi"}}
GROUPS, USERS = ["ml-research", "ops"], ["alice@example.com", "bob@example.com"]
ACCESS = {
    "local": {"type": "clusterLocal"},
    "open": {"type": "public"},
    "authn": {"type": "authenticated"},
    "teams": {"type": "groups", "groups": GROUPS},
    "people": {"type": "users", "users": USERS},
}
ISSUER = "https://sso.example.com"                   # the fixture's base environment: groupsClaim groups, userClaim email
AUDIENCE = "nim-api"
TOKEN = f"a valid token of {ISSUER}, audiences {AUDIENCE}"
MANY = {"model": {"nim": "meta/llama-3.1-8b-instruct", "version": "1.13.1"}, "profile": {"auto": {}}}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("explain") / "repo")
    add_environment(root, "e", {"nodePools": [H100], "policy": {"allowPublicEndpoints": True},
                                "identity": {"audiences": [AUDIENCE]}})
    add_project(root, "e", "team", {"gpus": 16})
    add_project(root, "e", "lab", {"gpus": 16})
    for name, access in ACCESS.items():
        add_workload(root, "e", "team", name, {**ONE_GPU, "scheduling": {"nodePools": ["h100"]}, "access": access,
                                               "scaling": replicas(1)})
    add_workload(root, "e", "lab", "chooser", {**ONE_GPU, **MANY, "scheduling": {"nodePools": ["h100"]},
                                               "scaling": replicas(1)})
    add_environment(root, "other", {"nodePools": [H100]})
    add_project(root, "other", "team", {"gpus": 8})
    add_workload(root, "other", "team", "elsewhere", {**ONE_GPU, "scheduling": {"nodePools": ["h100"]},
                                                      "scaling": replicas(1)})
    return root


def explained(root: Path, name: str) -> str:
    resolved, workload = usecases.find_workload(root, "e", name, None)
    return explain_workload(resolved.environment, workload)


def access_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("access: "))
    return lines[start:]


# -- whom the access admits


def test_groups_access_names_the_groups_it_admits_and_the_claim_they_are_read_from(root: Path):
    assert access_lines(explained(root, "teams")) == [
        f"access: groups ({TOKEN})",
        f"  admits groups: {', '.join(GROUPS)} (token claim 'groups')"]


def test_users_access_names_the_users_it_admits_and_the_claim_they_are_read_from(root: Path):
    assert access_lines(explained(root, "people")) == [
        f"access: users ({TOKEN})",
        f"  admits users: {', '.join(USERS)} (token claim 'email')"]


def test_the_subjects_shown_are_the_ones_the_policy_checks(root: Path):
    _, workload = usecases.find_workload(root, "e", "teams", None)
    access = workload.access
    assert isinstance(access, Jwt) and access.claim is not None
    assert f"admits groups: {', '.join(access.claim.values)} (token claim '{access.claim.claim}')" in explained(root, "teams")


@pytest.mark.parametrize("name, first", [("authn", f"access: authenticated ({TOKEN})"),
                                         ("local", "access: clusterLocal (no route from the gateway, no token)"),
                                         ("open", "access: public (exposed through the gateway, no token)")])
def test_levels_without_a_claim_admit_no_named_subjects(root: Path, name: str, first: str):
    assert access_lines(explained(root, name)) == [first]


# -- rejected profiles, one line per reason

LINE = re.compile(r"^    (?P<reason>.+) \((?P<count>\d+)\): (?P<names>.+)$")


def rejected_lines(text: str) -> tuple[str, list[re.Match[str]]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  rejected"))
    group = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        found = LINE.match(line)
        assert found, f"not a reason line: {line!r}"
        group.append(found)
    return lines[start], group


def test_rejections_are_grouped_one_line_per_reason_each_profile_once_under_its_reason(root: Path):
    _, workload = usecases.find_workload(root, "e", "chooser", None)
    selection = workload.profile.selection
    assert selection is not None and len(selection.rejected) >= 40
    reasons = {r.reason for r in selection.rejected}
    head, lines = rejected_lines(explained(root, "chooser"))
    assert head == f"  rejected ({len(selection.rejected)} profiles, {len(reasons)} reasons):"
    assert len(lines) == len(reasons) < len(selection.rejected)
    assert [m["reason"] for m in lines] == sorted(
        reasons, key=lambda r: (-sum(1 for x in selection.rejected if x.reason == r), r))   # most first
    listed: list[str] = []
    for match in lines:
        names = match["names"].split(", ")
        assert int(match["count"]) == len(names)
        assert set(names) == {r.profile.name for r in selection.rejected if r.reason == match["reason"]}
        listed += names
    assert sorted(listed) == sorted(r.profile.name for r in selection.rejected)           # each once


def test_the_grouped_lines_keep_each_reason_as_the_selection_gave_it(root: Path):
    _, lines = rejected_lines(explained(root, "chooser"))
    by_reason = {m["reason"]: m["names"].split(", ") for m in lines}
    assert by_reason["optimized for L40S, pool 'h100' has NVIDIA-H100-80GB-HBM3"] == [
        "tensorrt_llm-l40s-bf16-tp1-throughput", "tensorrt_llm-l40s-bf16-tp2-latency",
        "tensorrt_llm-l40s-fp8-tp1-throughput", "tensorrt_llm-l40s-fp8-tp2-latency"]


def test_profiles_of_the_same_name_under_one_reason_are_told_apart_by_id(root: Path):
    resolved, workload = usecases.find_workload(root, "e", "chooser", None)
    selection = workload.profile.selection
    assert selection is not None
    first = selection.rejected[0]
    twin = replace(first.profile, id="f" * 64)
    twinned = replace(selection, rejected=(first, Rejection(twin, first.pool, first.reason)) + selection.rejected[1:])
    text = explain_workload(resolved.environment, replace(workload, profile=replace(workload.profile, selection=twinned)))
    _, lines = rejected_lines(text)
    names = next(m["names"] for m in lines if m["reason"] == first.reason).split(", ")
    assert f"{first.profile.name} [{(first.profile.id or '')[:12]}...]" in names
    assert f"{first.profile.name} [ffffffffffff...]" in names


def test_a_choice_that_rejected_nothing_says_so(root: Path):
    resolved, workload = usecases.find_workload(root, "e", "chooser", None)
    selection = workload.profile.selection
    assert selection is not None
    alone = replace(workload, profile=replace(workload.profile, selection=replace(selection, rejected=())))
    assert "  rejected: none" in explain_workload(resolved.environment, alone).splitlines()


def test_a_pinned_profile_has_no_rejection_list(root: Path):
    assert "rejected" not in explained(root, "teams")


# -- an unknown workload


def test_an_unknown_workload_names_the_workloads_of_that_environment(root: Path):
    with pytest.raises(usecases.NotFound) as raised:
        usecases.find_workload(root, "e", "nothing-like-it", None)
    assert str(raised.value) == ("unknown workload 'nothing-like-it' in environment e: "
                                 "known: authn, chooser, local, open, people, teams")
    assert "elsewhere" not in str(raised.value)          # another environment's workload is not offered


def test_a_close_name_is_suggested(root: Path):
    with pytest.raises(usecases.NotFound, match=r"did you mean 'teams'\? known: "):
        usecases.find_workload(root, "e", "team", None)


def test_a_workload_asked_for_in_the_wrong_project_names_its_project(root: Path):
    with pytest.raises(usecases.NotFound) as raised:
        usecases.find_workload(root, "e", "chooser", "team")
    assert str(raised.value) == "no workload 'chooser' in project team of environment e: it is in project lab"
    with pytest.raises(usecases.NotFound) as unknown:
        usecases.find_workload(root, "e", "zzz", "lab")
    assert str(unknown.value) == "unknown workload 'zzz' in project lab of environment e: known: chooser"
