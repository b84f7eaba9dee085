"""`nimgen explain`: the effective spec of one workload, where each value came from, and the profile decision."""

from __future__ import annotations

from ..model import Environment, Fixed, Ngc, Profile, Workload


def _profile(p: Profile) -> str:
    ident = p.id[:12] + "..." if p.id else "(no id: pinned by name)"
    return f"{p.name} [{ident}]"


def _scaling(w: Workload) -> str:
    s = w.scaling
    text = f"scaling: {s.min_replicas}-{s.max_replicas} replicas via {s.backend}"
    if not isinstance(s, Fixed):
        text += f" on {s.metric} target {s.target:g}"
    return text


def _store(w: Workload) -> str:
    store = w.store
    if isinstance(store, Ngc) and store.cache is not None:
        return f"store: ngc, cache PVC {store.cache.name}"
    return f"store: {store.kind}"


def explain_workload(env: Environment, w: Workload) -> str:
    lines = [f"workload {w.name} (project {w.project}, namespace {w.namespace}) in environment {env.name}",
             f"sources: {', '.join(w.sources)}", "", "effective spec (value  <- origin):"]
    width = max((len(p.path) for p in w.provenance), default=0)
    for p in w.provenance:
        lines.append(f"  {p.path.ljust(width)}  {p.value}  <- {p.origin}")
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
    lines += ["", f"compute: {c.gpus} x {c.gpu.resource}, cpu {c.cpu}, memory {c.memory}, /dev/shm {c.shared_memory}",
              f"pools (priority order): {', '.join(w.service.placement.pools)}",
              _scaling(w), _store(w), f"access: {w.access.kind}"]
    return "\n".join(lines) + "\n"
