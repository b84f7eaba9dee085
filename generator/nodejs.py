"""cdk8s runs on Node.js (through jsii): a build that must construct a file needs Node.js 20 or later on PATH.
The check runs only when something must be constructed, so a build from the cache, `validate`, `explain` and
`verify` need no Node.js. And the CPU a process constructs on, with its Node.js.

Every jsii call is a synchronous round trip: Python writes a request and waits, Node.js answers and waits. On one
CPU each turn is a plain context switch; on two it wakes the other CPU, which in a virtual machine costs about
0.3 ms a call (measured on the 2-core build machine: the 10,842 calls constructing 480 files took 6.5-7.0 s with
Python and Node.js on one CPU, 8.3-12 s on whichever the scheduler chose; Node.js used half the CPU time).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from typing import Iterator

MINIMUM_MAJOR = 20


class NodeMissing(Exception):
    """Node.js is absent or too old: not an input error, and not a bug."""


def require_node() -> None:
    node = shutil.which("node")
    if node is None:
        raise NodeMissing(f"Node.js {MINIMUM_MAJOR} or later is required to render manifests (cdk8s runs on it), "
                          "and no 'node' is on PATH: install it, e.g. from https://nodejs.org")
    shown = _version(node)
    found = re.match(r"v(\d+)\.", shown.strip())
    if found is None or int(found.group(1)) < MINIMUM_MAJOR:
        raise NodeMissing(f"Node.js {MINIMUM_MAJOR} or later is required to render manifests (cdk8s runs on it); "
                          f"{node} is {shown.strip() or 'of unknown version'}")


@functools.cache                # asked once per process and node binary: a build asks for every chunk of files
def _version(node: str) -> str:
    try:
        return subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise NodeMissing(f"cannot run {node} --version: {exc}") from None


_cpu: int | None = None        # the CPU this process's Node.js runs on, once this module started it


def current_cpu() -> int | None:
    """The CPU this process runs on now (Linux), or None."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[36])
    except (OSError, ValueError, IndexError):
        return None


def node_cpu() -> int | None:
    """The CPU this process's Node.js runs on, when this module started it."""
    return _cpu


@contextmanager
def on_node_cpu(cpu: int | None = None) -> Iterator[None]:
    """Run the block on the CPU of this process's Node.js; the block may start Node.js (import cdk8s), which then
    runs on `cpu` (default: the CPU this process runs on now). Elsewhere than Linux, or when Node.js was started
    before, the block runs where the scheduler puts it."""
    global _cpu
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    allowed = os.sched_getaffinity(0)
    if _cpu is None:
        if "cdk8s" in sys.modules:        # Node.js started elsewhere, on no particular CPU
            yield
            return
        chosen = cpu if cpu is not None else current_cpu()
        _cpu = chosen if chosen in allowed else min(allowed)
    os.sched_setaffinity(0, {_cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)
