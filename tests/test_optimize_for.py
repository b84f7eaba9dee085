"""An objective a workload asks for (profile.auto.optimizeFor) that no profile of it can meet here is a located
warning naming what the closest profile would take; nothing is said when the user asked for nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from meaning import ONE_GPU, add_environment, add_project, add_workload, bare_repo, diagnostics_by_environment, warnings

ONE_PER_NODE = {"nodePools": [{"name": "l40s", "gpu": {"product": "NVIDIA-L40S", "perNode": 1, "memory": "48Gi",
                                                      "device": "26b9:10de"}}]}
AUTO = {**ONE_GPU, "compute": {"cpu": "4", "memory": "32Gi"}}


@pytest.fixture(scope="module")
def diagnostics(tmp_path_factory: pytest.TempPathFactory):
    root: Path = bare_repo(tmp_path_factory.mktemp("objective") / "repo")
    for env, objective in (("asked", {"optimizeFor": "latency"}), ("silent", {}), ("met", {"optimizeFor": "throughput"})):
        add_environment(root, env, ONE_PER_NODE)
        add_project(root, env, "team", {"gpus": 4})
        add_workload(root, env, "team", "w", {**AUTO, "profile": {"auto": objective}})
    return diagnostics_by_environment(root, ("asked", "silent", "met"))


def test_an_objective_no_profile_meets_here_is_a_warning_saying_what_it_would_take(diagnostics):
    (warning,) = warnings(diagnostics, "asked")
    assert warning.path == "spec.profile.auto.optimizeFor"
    assert warning.message == ("optimizeFor latency could not be honoured: no latency profile runs here, so "
                               "tensorrt_llm-l40s-bf16-tp1-throughput (throughput) is pinned")
    assert warning.hint is not None and warning.hint.startswith("tensorrt_llm-l40s-bf16-tp2-latency would run if: needs 2 GPUs")


def test_no_warning_when_nothing_was_asked_or_the_objective_is_met(diagnostics):
    assert warnings(diagnostics, "silent") == [] and warnings(diagnostics, "met") == []
