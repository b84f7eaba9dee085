"""cdk8s runs on Node.js (through jsii): a build that must construct a file needs Node.js 20 or later on PATH.
The check runs only when something must be constructed, so a build from the cache, `validate`, `explain` and
`verify` need no Node.js."""

from __future__ import annotations

import re
import shutil
import subprocess

MINIMUM_MAJOR = 20


class NodeMissing(Exception):
    """Node.js is absent or too old: not an input error, and not a bug."""


def require_node() -> None:
    node = shutil.which("node")
    if node is None:
        raise NodeMissing(f"Node.js {MINIMUM_MAJOR} or later is required to render manifests (cdk8s runs on it), "
                          "and no 'node' is on PATH: install it, e.g. from https://nodejs.org")
    try:
        shown = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise NodeMissing(f"cannot run {node} --version: {exc}") from None
    found = re.match(r"v(\d+)\.", shown.strip())
    if found is None or int(found.group(1)) < MINIMUM_MAJOR:
        raise NodeMissing(f"Node.js {MINIMUM_MAJOR} or later is required to render manifests (cdk8s runs on it); "
                          f"{node} is {shown.strip() or 'of unknown version'}")
