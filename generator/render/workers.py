"""Construct, emit and verify output files: in this process, or spread over the cores when there are enough files
to pay for more processes.

A file's text depends only on its own model value (a Job), never on the process that renders it, so the files of
every environment form one pool of work. This process renders files too: from the end of the pool, while the
processes it started take chunks from the front, so their start-up (Python, nimgen and their own Node.js, about
a second) costs no time of its own.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..diagnostics import Diagnostic
from ..model import OutputFile
from ..nodejs import current_cpu, node_cpu, on_node_cpu, require_node
from ..verify.schemas import verify_file
from . import emit

# Files to construct before a second process pays for itself (NIMGEN_PARALLEL_MIN_FILES; 0 always uses one more
# process, even on one core). A file costs about 15 ms; a process about a second to start.
PARALLEL_MIN_FILES = int(os.environ.get("NIMGEN_PARALLEL_MIN_FILES", "150"))
# Files per task: small enough that the processes finish together, big enough that handing a task over (pickling
# its models and its objects back) stays a small part of rendering it.
CHUNK = 12
# Helper processes at most: each holds Python, nimgen and a Node.js (about 150 MiB), and the files of a fleet keep
# a few busy; a CI runner that shows 64 cores gets 7 helpers, not 63.
MAX_HELPERS = 7


@dataclass(frozen=True)
class Job:
    """One output file to construct: the model value it is rendered from, its header, the Kubernetes version its
    objects are verified against, and the path diagnostics show."""

    relpath: str
    value: OutputFile
    header: str
    kubernetes_version: str
    shown: str


@dataclass(frozen=True)
class Constructed:
    """A constructed file: its text, its objects (in text order) and what verify found in them."""

    text: str
    objects: list[dict[str, Any]]
    problems: list[Diagnostic]


def construct_files(jobs: Sequence[Job], cpu: int | None = None) -> list[Constructed]:
    """Construct, emit and verify each job's file, in this process, on one CPU with its Node.js (`cpu`, when this
    starts Node.js; nodejs.py says why); in the order of `jobs`."""
    if not jobs:
        return []
    require_node()
    with on_node_cpu(cpu):
        from .. import construct   # starts Node.js: only when something must be constructed

        found = []
        for job, synthesized in zip(jobs, construct.synthesize([job.value for job in jobs])):
            objects = emit.sort_objects(synthesized)
            text = emit.render_manifests(objects, job.header)
            found.append(Constructed(text, objects, verify_file(job.shown, text, objects, job.kubernetes_version)))
    return found


def _usable_cpus() -> list[int]:
    """The CPUs this process may run on: its affinity where the system has one (a container's cpuset), else all."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _ready() -> None:
    """A helper's first task: nothing, once its initializer has started Node.js."""


def _start_helper(started: Any, cpus: list[int]) -> None:
    """A helper process starts its Node.js at once, each helper on the next CPU of `cpus`."""
    with started.get_lock():
        number = started.value
        started.value += 1
    require_node()
    with on_node_cpu(cpus[number % len(cpus)]):
        from .. import construct  # noqa: F401  (starts Node.js)


class Workers:
    """The processes that construct files beside this one (one per further core), started when there is enough
    work: ahead of it (`start`) when a build will surely construct many files, so they are ready when the work
    comes (Python, nimgen and their own Node.js take about a second to start), or when it comes."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._mine: int | None = None          # this process's CPU while constructing
        self.helpers = max(min(len(_usable_cpus()) - 1, MAX_HELPERS), 1 if PARALLEL_MIN_FILES == 0 else 0)

    def worth_it(self, files: int) -> bool:
        return self.helpers > 0 and files >= max(PARALLEL_MIN_FILES, 1)

    def start(self) -> None:
        if self._pool is not None or self.helpers == 0:
            return
        self._mine = node_cpu() if node_cpu() is not None else current_cpu()
        allowed = _usable_cpus()
        cpus = [c for c in allowed if c != self._mine] or allowed
        # spawn, not fork: a parent that already runs jsii's Node.js (a test process) must not share its pipes
        context = multiprocessing.get_context("spawn")
        self._pool = ProcessPoolExecutor(self.helpers, mp_context=context, initializer=_start_helper,
                                         initargs=(context.Value("i", 0), cpus))
        # a spawning pool starts a process per task submitted while none is idle: one task each starts them now
        for _ in range(self.helpers):
            self._pool.submit(_ready)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def construct(self, jobs: Sequence[Job], progress: Callable[[str], None] | None = None) -> list[Constructed]:
        """Every job's file, in the order of `jobs`: in this process alone, or with the helpers when they are
        started or there are enough jobs to start them."""
        if self._pool is None and self.worth_it(len(jobs)):
            self.start()
        if self._pool is None or not jobs:
            if jobs and progress is not None:
                progress(f"constructing {len(jobs)} files")
            return construct_files(jobs)
        if progress is not None:
            progress(f"constructing {len(jobs)} files in {self.helpers + 1} processes")
        size = max(1, min(CHUNK, -(-len(jobs) // (self.helpers + 1))))     # a chunk for every process at least
        chunks = [jobs[start:start + size] for start in range(0, len(jobs), size)]
        futures = [self._pool.submit(construct_files, chunk) for chunk in chunks]
        done: dict[int, list[Constructed]] = {}
        # this process takes chunks from the end for as long as no helper has taken them
        for index in reversed(range(len(chunks))):
            if not futures[index].cancel():
                break
            done[index] = construct_files(chunks[index], self._mine)
        for index, future in enumerate(futures):
            if index not in done:
                done[index] = future.result()
        return [result for index in range(len(chunks)) for result in done[index]]
