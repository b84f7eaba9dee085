"""Construct spread over processes: the same files as one process makes, in the same order, with each process's
Python and Node.js on one CPU; helper processes started ahead of the work go away with a failed build."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import PROJECT, THOROUGH, make_repo
from nimgen import usecases
from nimgen.render import workers


def test_files_constructed_by_helper_processes_are_those_one_process_makes(tmp_path, monkeypatch):
    root = make_repo(tmp_path / "repo")
    monkeypatch.setattr(workers, "PARALLEL_MIN_FILES", 10**9)
    alone = usecases.compile_all(root, use_cache=False).files
    monkeypatch.setattr(workers, "PARALLEL_MIN_FILES", 0)       # a helper process, even for a few files
    shared = usecases.compile_all(root, use_cache=False).files
    assert shared == alone and sum(len(files) for files in alone.values()) > 10


def test_a_helper_takes_work_only_when_there_is_enough():
    helpers = workers.Workers()
    if helpers.helpers == 0:
        pytest.skip("one CPU: no helper processes")
    assert not helpers.worth_it(workers.PARALLEL_MIN_FILES - 1) and helpers.worth_it(workers.PARALLEL_MIN_FILES)


def test_helpers_started_ahead_of_the_work_run_before_any_is_given(monkeypatch):
    import multiprocessing
    monkeypatch.setattr(workers, "PARALLEL_MIN_FILES", 0)
    with workers.Workers() as helpers:
        before = len(multiprocessing.active_children())
        helpers.start()
        assert len(multiprocessing.active_children()) - before == helpers.helpers <= workers.MAX_HELPERS


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_python_and_its_nodejs_construct_on_one_cpu_and_python_gets_its_cpus_back():
    script = textwrap.dedent("""
        import os
        from nimgen import nodejs
        allowed = os.sched_getaffinity(0)
        cpu = max(allowed)
        with nodejs.on_node_cpu(cpu):
            import cdk8s                                  # starts jsii's Node.js
            inside = os.sched_getaffinity(0)
        kids = [int(p) for p in os.popen(f"pgrep -P {os.getpid()} node").read().split()]
        nodes = {p: os.sched_getaffinity(p) for p in kids}
        print(inside == {cpu}, bool(nodes) and all(a == {cpu} for a in nodes.values()),
              os.sched_getaffinity(0) == allowed, nodejs.node_cpu() == cpu)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"})
    assert done.stdout.split() == ["True", "True", "True", "True"], done.stderr


@pytest.mark.skipif(not THOROUGH, reason="thorough profile only (make test-thorough, CI): starts helper processes")
def test_helpers_started_ahead_of_a_build_that_fails_leave_with_it(tmp_path):
    root = make_repo(tmp_path / "repo")
    workload = next((root / "environments").glob("*/workloads/*.yaml"))
    workload.write_text(workload.read_text().replace("kind: InferenceWorkload", "kind: InferenceWorkload\nbogus: 1", 1))
    done = subprocess.run([sys.executable, "-m", "nimgen", "--root", str(root), "build"], cwd=PROJECT,
                          env={**os.environ, "NIMGEN_PARALLEL_MIN_FILES": "0"}, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "bogus" in done.stderr and "Traceback" not in done.stderr
    assert not (root / "out").exists()
