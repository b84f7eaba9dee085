"""`nimgen explain`: the effective spec of one workload, where each value came from, and the profile decision."""

from __future__ import annotations

from typing import assert_never

from ..model import Access, ClusterLocal, Environment, Fixed, Jwt, Ngc, Profile, Public, Rejection, Workload


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


def _access(access: Access) -> list[str]:
    """The access level, and whom it admits: for groups and users the subjects and the token claim they are read
    from, for a token level the issuer (and audiences) whose tokens count."""
    match access:
        case ClusterLocal():
            return ["access: clusterLocal (no route from the gateway, no token)"]
        case Public():
            return ["access: public (exposed through the gateway, no token)"]
        case Jwt():
            audiences = f", audiences {', '.join(access.audiences)}" if access.audiences else ""
            lines = [f"access: {access.kind} (a valid token of {access.issuer}{audiences})"]
            if access.claim is not None:
                lines.append(f"  admits {access.kind}: {', '.join(access.claim.values)} "
                             f"(token claim '{access.claim.claim}')")
            return lines
        case _:
            assert_never(access)


def _rejected(rejections: tuple[Rejection, ...]) -> list[str]:
    """One line per reason with the profiles it rules out (a reason particular to a pool names the pool), the
    reasons that rule out most first; a profile shows its id only when another of the same name is beside it."""
    by_reason: dict[str, list[Profile]] = {}
    for rejection in rejections:
        by_reason.setdefault(rejection.reason, []).append(rejection.profile)
    if not by_reason:
        return ["  rejected: none"]
    lines = [f"  rejected ({len(rejections)} profiles, {len(by_reason)} reasons):"]
    for reason, profiles in sorted(by_reason.items(), key=lambda item: (-len(item[1]), item[0])):
        names = [p.name for p in profiles]
        shown = [_profile(p) if names.count(p.name) > 1 else p.name for p in profiles]
        lines.append(f"    {reason} ({len(profiles)}): {', '.join(shown)}")
    return lines


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
        lines += _rejected(selection.rejected)
    c = w.compute
    lines += ["", f"compute: {c.gpus} x {c.gpu.resource}, cpu {c.cpu}, memory {c.memory}, /dev/shm {c.shared_memory}",
              f"pools (priority order): {', '.join(w.service.placement.pools)}",
              _scaling(w), _store(w)] + _access(w.access)
    return "\n".join(lines) + "\n"
