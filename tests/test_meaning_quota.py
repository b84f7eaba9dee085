"""What a project's budget means for its workloads, checked where resolve reads it (no rendering): the GPUs its
workloads guarantee (minReplicas x whole GPUs per replica) fit quota.gpus, the GPUs they may reach (maxReplicas x
whole GPUs) fit overQuota.gpuLimit or pend (a warning), and there are no more workloads than quota.workloads.
Each check holds exactly at its limit and fails one over it, and its diagnostic lands on the workload that goes
past the limit (in name order), where a user changes something, not on whichever workload happens to sort last.

All scenarios are environments of one repository, resolved together once: each test reads the diagnostics
located in its own environment's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run
from meaning import (ONE_GPU, TWO_GPUS, add_environment, add_project, add_workload, bare_repo, diagnostics_by_environment, errors,
                     replicas, warnings)
from nimgen.diagnostics import Diagnostic

MIG = {**ONE_GPU, "compute": {"cpu": "4", "memory": "32Gi", "migProfile": "3g.40gb"},
       "scheduling": {"nodePools": ["a100"]}}
A100_MIG = {"name": "a100", "gpu": {"product": "NVIDIA-A100-SXM4-80GB", "perNode": 8, "memory": "80Gi",
                                    "device": "20b2:10de", "migProfiles": ["1g.10gb", "3g.40gb"]}}
L40S = {"name": "l40s", "gpu": {"product": "NVIDIA-L40S", "perNode": 4, "memory": "48Gi", "device": "26b9:10de"}}

# environment -> (project quota, project spec beyond quota, {workload: spec})
SCENARIOS = {
    # guaranteed GPUs against quota.gpus (the limit far above, so only the quota speaks)
    "wide-over": ({"gpus": 4}, {"overQuota": {"gpuLimit": 16}}, {"wide": {**TWO_GPUS, "scaling": replicas(3)}}),
    "wide-at": ({"gpus": 4}, {"overQuota": {"gpuLimit": 16}}, {"wide": {**TWO_GPUS, "scaling": replicas(2)}}),
    "guaranteed-over": ({"gpus": 4}, {"overQuota": {"gpuLimit": 16}}, {
        "a-small": {**ONE_GPU, "scaling": replicas(1)},            # 1, running 1
        "b-wide": {**TWO_GPUS, "scaling": replicas(2)},            # 4, running 5: past the quota of 4 here
        "c-tail": {**ONE_GPU, "scaling": replicas(1)}}),           # 1, running 6
    "guaranteed-at": ({"gpus": 6}, {"overQuota": {"gpuLimit": 16}}, {
        "a-small": {**ONE_GPU, "scaling": replicas(1)},
        "b-wide": {**TWO_GPUS, "scaling": replicas(2)},
        "c-tail": {**ONE_GPU, "scaling": replicas(1)}}),
    # peak GPUs against overQuota.gpuLimit (guaranteed: 2 + 1 + 1 = 4, the quota)
    "peak-over": ({"gpus": 4}, {"overQuota": {"gpuLimit": 6}}, {
        "a-wide": {**TWO_GPUS, "scaling": replicas(1, 2)},         # peak 4, running 4
        "b-cross": {**ONE_GPU, "scaling": replicas(1, 3)},         # peak 3, running 7: past the limit of 6 here
        "c-tail": {**ONE_GPU, "scaling": replicas(1)}}),           # peak 1, running 8
    "peak-at": ({"gpus": 4}, {"overQuota": {"gpuLimit": 8}}, {
        "a-wide": {**TWO_GPUS, "scaling": replicas(1, 2)},
        "b-cross": {**ONE_GPU, "scaling": replicas(1, 3)},
        "c-tail": {**ONE_GPU, "scaling": replicas(1)}}),
    # without overQuota the limit is the quota
    "no-over-quota": ({"gpus": 2}, {}, {"burst": {**ONE_GPU, "scaling": replicas(1, 3)}}),
    # the number of workloads against quota.workloads
    "count-over": ({"gpus": 8, "workloads": 1}, {}, dict.fromkeys(("a", "b", "c"), {**ONE_GPU, "scaling": replicas(1)})),
    "count-at": ({"gpus": 8, "workloads": 3}, {}, dict.fromkeys(("a", "b", "c"), {**ONE_GPU, "scaling": replicas(1)})),
    # a MIG slice counts its compute units, as KAI counts it in the queue: 1 + 2 x 3 = 7 GPUs
    "mig-over": ({"gpus": 6}, {}, {"a-whole": {**ONE_GPU, "scaling": replicas(1)},
                                   "b-slices": {**MIG, "scaling": replicas(2)}}),
    "mig-at": ({"gpus": 7}, {}, {"a-whole": {**ONE_GPU, "scaling": replicas(1)},
                                 "b-slices": {**MIG, "scaling": replicas(2)}}),
    # a workload at minReplicas 0 guarantees nothing, but reaches its maxReplicas
    # a rollout that surges runs one more replica of the workload beside the old ones
    "surge-over": ({"gpus": 4}, {"overQuota": {"gpuLimit": 4}},
                   {"wide": {**TWO_GPUS, "scaling": replicas(2), "rollout": {"maxSurge": 1}}}),
    "surge-at": ({"gpus": 4}, {"overQuota": {"gpuLimit": 6}},
                 {"wide": {**TWO_GPUS, "scaling": replicas(2), "rollout": {"maxSurge": 1}}}),
    "zero": ({"gpus": 1}, {"overQuota": {"gpuLimit": 4}}, {
        "a-steady": {**ONE_GPU, "scaling": replicas(1)},
        "b-idle": {**ONE_GPU, "scaling": {**replicas(0, 3), "scaleToZero": {"afterSeconds": 300}}}}),
}
ENVIRONMENT = {"autoscaling": {"backend": "hpa", "scaleFromZero": {"via": "keda-http"}}, "nodePools": [L40S, A100_MIG]}


@pytest.fixture(scope="module")
def quota_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = bare_repo(tmp_path_factory.mktemp("quota") / "repo")
    for env, (quota, spec, workloads) in SCENARIOS.items():
        add_environment(root, env, ENVIRONMENT)
        add_project(root, env, "team", quota, **spec)
        if env == "wide-over":       # a project without workloads, checked before team, ends no check
            add_project(root, env, "a-idle", {"gpus": 1})
        for name, workload in workloads.items():
            add_workload(root, env, "team", name, workload)
    return root


@pytest.fixture(scope="module")
def diagnostics(quota_repo: Path) -> dict[str, list[Diagnostic]]:
    return diagnostics_by_environment(quota_repo, SCENARIOS)


def line_of(root: Path, file: str, key: str) -> int:
    """The 1-based line of `key:` in a file a test wrote."""
    lines = (root / file).read_text().splitlines()
    (line,) = [n for n, text in enumerate(lines, 1) if text.lstrip().startswith(f"{key}:")]
    return line


# -- guaranteed GPUs: sum(minReplicas x whole GPUs per replica) <= quota.gpus


def test_three_replicas_of_two_gpus_overflow_a_quota_of_four(diagnostics):
    (error,) = errors(diagnostics, "wide-over")
    assert error.file == "environments/wide-over/workloads/wide.yaml" and error.path == "spec.scaling.minReplicas"
    assert "project team needs 6 GPUs at minReplicas, its quota is 4" in error.message


def test_two_replicas_of_two_gpus_fit_a_quota_of_four_exactly(diagnostics):
    assert diagnostics["wide-at"] == []


def test_the_guaranteed_gpu_error_is_at_the_minreplicas_of_the_workload_that_overflows(diagnostics, quota_repo):
    (error,) = errors(diagnostics, "guaranteed-over")
    # a-small brings 1, b-wide 4 more: 5 > 4 at b-wide; c-tail, which sorts last, only adds to an overflow
    assert error.file == "environments/guaranteed-over/workloads/b-wide.yaml"
    assert (error.path, error.line) == ("spec.scaling.minReplicas", line_of(quota_repo, error.file, "minReplicas"))
    assert "project team needs 6 GPUs at minReplicas, its quota is 4" in error.message
    assert "spec.quota.gpus" in error.hint and "minReplicas" in error.hint


def test_workloads_guaranteeing_exactly_the_quota_pass(diagnostics):
    assert diagnostics["guaranteed-at"] == []


# -- peak GPUs: sum(maxReplicas x whole GPUs per replica) <= overQuota.gpuLimit, else a warning


def test_a_peak_above_the_limit_is_a_warning_at_the_maxreplicas_of_the_workload_that_crosses_it(diagnostics, quota_repo):
    assert errors(diagnostics, "peak-over") == []
    (warning,) = warnings(diagnostics, "peak-over")
    # a-wide may reach 4, b-cross 3 more: 7 > 6 at b-cross
    assert warning.file == "environments/peak-over/workloads/b-cross.yaml"
    assert (warning.path, warning.line) == ("spec.scaling.maxReplicas", line_of(quota_repo, warning.file, "maxReplicas"))
    assert "project team may reach 8 GPUs at maxReplicas and during rollouts, above its limit of 6" in warning.message


def test_a_peak_above_the_limit_is_printed_as_a_warning_and_exits_0(quota_repo: Path):
    result = run(quota_repo, "validate", "--env", "peak-over")
    assert result.exit_code == 0, result.stderr
    assert "warning: project team may reach 8 GPUs at maxReplicas" in result.stderr + result.stdout


def test_a_peak_exactly_at_the_limit_is_silent(diagnostics):
    assert diagnostics["peak-at"] == []


def test_without_over_quota_the_limit_is_the_quota(diagnostics):
    (warning,) = diagnostics["no-over-quota"]
    assert warning.severity == "warning" and warning.file == "environments/no-over-quota/workloads/burst.yaml"
    assert "may reach 3 GPUs at maxReplicas and during rollouts, above its limit of 2" in warning.message


def test_a_surging_rollout_counts_its_extra_replica_in_the_peak(diagnostics):
    assert errors(diagnostics, "surge-over") == []     # the guaranteed 2 x 2 fit the quota of 4
    (warning,) = warnings(diagnostics, "surge-over")
    assert warning.file == "environments/surge-over/workloads/wide.yaml" and warning.path == "spec.scaling.maxReplicas"
    assert "may reach 6 GPUs at maxReplicas and during rollouts, above its limit of 4" in warning.message
    assert "(2 + 1 in a rollout) x 2" in warning.hint


def test_a_surging_rollout_within_the_limit_is_silent(diagnostics):
    assert diagnostics["surge-at"] == []


# -- the number of workloads: at most quota.workloads


def test_a_workload_past_the_allowed_count_is_the_one_reported(diagnostics):
    (error,) = errors(diagnostics, "count-over")
    # one is allowed: b is the first past it, by name
    assert (error.file, error.path) == ("environments/count-over/workloads/b.yaml", "metadata.name")
    assert "project team allows 1 workloads, found 3" in error.message


def test_exactly_the_allowed_number_of_workloads_passes(diagnostics):
    assert diagnostics["count-at"] == []


# -- what counts as a GPU of the budget


def test_mig_slices_count_their_compute_units_in_the_budget(diagnostics):
    # KAI counts nvidia.com/mig-3g.40gb as 3 GPUs (GetGpusQuota): two replicas and a whole GPU are 7
    (error,) = errors(diagnostics, "mig-over")
    assert error.file == "environments/mig-over/workloads/b-slices.yaml"
    assert "project team needs 7 GPUs at minReplicas, its quota is 6" in error.message
    assert "2 x 3 GPUs of its own" in error.hint
    assert diagnostics["mig-at"] == []


def test_a_workload_that_scales_to_zero_guarantees_no_gpu_but_counts_at_its_peak(diagnostics):
    assert diagnostics["zero"] == []          # guaranteed 1 + 0 = the quota of 1; peak 1 + 3 = the limit of 4
