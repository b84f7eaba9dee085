"""Differences between out/ and a fresh build, for `check` and `plan`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Difference:
    status: str                          # changed | missing | extra
    path: str                            # as shown: out/<env>/<file>
    diff: str = ""                       # unified diff, for changed files


def differences(fresh: dict[str, dict[str, bytes]], current: dict[str, dict[str, bytes]]) -> list[Difference]:
    """fresh and current: environment -> relative path -> bytes."""
    found = []
    for env in sorted(fresh.keys() | current.keys()):
        new, old = fresh.get(env, {}), current.get(env, {})
        for rel in sorted(new.keys() | old.keys()):
            shown = f"out/{env}/{rel}"
            if rel not in old:
                found.append(Difference("missing", shown))
            elif rel not in new:
                found.append(Difference("extra", shown))
            elif old[rel] != new[rel]:
                diff = difflib.unified_diff(old[rel].decode(errors="replace").splitlines(keepends=True),
                                            new[rel].decode().splitlines(keepends=True),
                                            fromfile=f"{shown} (committed)", tofile=f"{shown} (fresh build)")
                found.append(Difference("changed", shown, "".join(diff)))
    return found


def format_differences(found: list[Difference]) -> str:
    return "".join(f"{d.status}: {d.path}\n" + d.diff for d in found)
