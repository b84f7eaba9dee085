"""Differences between out/ and a fresh build, for `check` and `diff`: each changed file as a unified diff, a new
or deleted one with its whole content, in every output format."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Difference:
    status: str                          # changed | missing (a build would add it) | extra (a build would delete it)
    path: str                            # as shown: out/<env>/<file>
    diff: str = ""                       # unified diff; a new or deleted file's whole content as one


def _unified(old: bytes, new: bytes, old_label: str, new_label: str) -> str:
    return "".join(difflib.unified_diff(old.decode(errors="replace").splitlines(keepends=True),
                                        new.decode(errors="replace").splitlines(keepends=True),
                                        fromfile=old_label, tofile=new_label))


def differences(fresh: dict[str, dict[str, bytes]], current: dict[str, dict[str, bytes]]) -> list[Difference]:
    """fresh and current: environment -> relative path -> bytes."""
    found = []
    for env in sorted(fresh.keys() | current.keys()):
        new, old = fresh.get(env, {}), current.get(env, {})
        for rel in sorted(new.keys() | old.keys()):
            shown = f"out/{env}/{rel}"
            if rel not in old:
                found.append(Difference("missing", shown, _unified(b"", new[rel], "/dev/null", f"{shown} (fresh build)")))
            elif rel not in new:
                found.append(Difference("extra", shown, _unified(old[rel], b"", f"{shown} (committed)", "/dev/null")))
            elif old[rel] != new[rel]:
                found.append(Difference("changed", shown, _unified(old[rel], new[rel], f"{shown} (committed)",
                                                                   f"{shown} (fresh build)")))
    return found


WHAT = {"changed": "differs from a fresh build", "missing": "is missing: a build would add it",
        "extra": "is not part of a fresh build: a build would delete it"}


def render_differences(found: list[Difference], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([asdict(d) for d in found], indent=2) + "\n"
    if fmt == "github":
        return "".join(f"::error file={d.path},line=1,title=nimgen::{d.path} {WHAT[d.status]}\n" for d in found)
    if fmt == "markdown":
        return "".join(f"<details><summary><code>{d.path}</code> {WHAT[d.status]}</summary>\n\n```diff\n"
                       f"{d.diff.replace('```', '` ` `').rstrip(chr(10))}\n```\n\n</details>\n\n" for d in found)
    return "".join(f"{d.status}: {d.path}\n" + d.diff for d in found)
