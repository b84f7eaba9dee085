"""`nimgen explain`: the effective spec of one workload, where each value came from, and the profile decision."""

from __future__ import annotations

import json

from .model import Environment, Workload
from .profiles import Profile


def _value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _profile(p: Profile) -> str:
    ident = p.id[:12] + "..." if p.id else "(no id: pinned by name)"
    return f"{p.name} [{ident}]"


def explain_workload(env: Environment, w: Workload) -> str:
    lines = [f"workload {w.name} (project {w.project.name}, namespace {w.namespace}) in environment {env.name}",
             f"sources: {', '.join(w.sources)}", "", "effective spec (value  <- origin):"]
    width = max((len(path) for path, _, _ in w.effective), default=0)
    for path, value, origin in w.effective:
        lines.append(f"  {path.ljust(width)}  {_value(value)}  <- {origin}")
    lines += ["", f"image: {w.image}", f"profile: {w.profile.request}", f"  NIM_MODEL_PROFILE={w.profile.pin}"]
    if w.profile.profile:
        lines.append(f"  chosen: {_profile(w.profile.profile)}")
    selection = w.profile.selection
    if selection is not None:
        for note in selection.notes:
            lines.append(f"  note: {note}")
        if len(selection.ranked) > 1:
            lines.append("  runner-up candidates (compatible, ranked lower):")
            for candidate in selection.ranked[1:]:
                lines.append(f"    {_profile(candidate)}")
        lines.append(f"  rejected ({len(selection.rejected)}):")
        for rejection in selection.rejected:
            where = f" on pool {rejection.pool}" if rejection.pool else ""
            lines.append(f"    {_profile(rejection.profile)}{where}: {rejection.reason}")
    c = w.compute
    lines += ["", f"compute: {c.gpus} x {c.gpu_resource}, cpu {c.cpu}, memory {c.memory}, /dev/shm {c.shared_memory}",
              f"pools (priority order): {', '.join(w.placement.pools)}",
              f"scaling: {w.scaling.min_replicas}-{w.scaling.max_replicas} replicas via {w.scaling.backend}"
              + (f" on {w.scaling.metric} target {w.scaling.target:g}" if w.scaling.metric else ""),
              f"store: {w.store.kind}" + (f", cache PVC {w.store.cache.claim}" if w.store.cache else ""),
              f"access: {w.access.type}"]
    return "\n".join(lines) + "\n"
