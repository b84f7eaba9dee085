"""`nimgen plan`: the review summary of a change, per environment, from the committed out/ (before) and a fresh
build (after): the workloads added, changed and removed, in the terms a reviewer decides on (summary.json), the
projects' GPU use, the build's warnings, and a loud line for anything destructive. Printed as text, JSON, GitHub
workflow annotations or Markdown (a pull-request comment)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from ..diagnostics import Diagnostic, github_data, github_property, safe
from .summary import EXPOSURE_RANK

ObjectRef = tuple[str, str, str]         # kind, namespace ('' for cluster-scoped), name
Objects = dict[ObjectRef, dict[str, Any]]
# Field of a workload's summary -> how a reviewer reads it (the order of a change's lines).
FIELDS = (("model", "model"), ("profile", "profile"), ("gpuType", "GPU"), ("gpusPerReplica", "GPUs per replica"),
          ("replicas", "replicas"), ("access", "access"), ("scaling", "scaling"), ("store", "store"),
          ("lora", "LoRA"), ("outbound", "outbound"), ("startSeconds", "start-up window"), ("image", "image"))
# Deleting these loses what is not in git: a cache's data, a namespace's other objects, a queue's scheduling.
LOSSES = {"PersistentVolumeClaim": "its data is lost (a NIM cache downloads again)",
          "Namespace": "everything in it is deleted, whatever created it",
          "Queue": "pods that name it are no longer scheduled"}
IMMUTABLE_CLAIM_FIELDS = ("storageClassName", "accessModes")


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class WorkloadChange:
    workload: str                        # <project>/<name>
    status: str                          # added | changed | removed
    facts: str                           # one line: what it is (after; before when removed)
    source: str                          # the input file to annotate
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class ProjectChange:
    project: str
    quota: str | None
    limit: str | None
    guaranteed: tuple[str, str]          # GPUs before, after
    peak: tuple[str, str]


@dataclass(frozen=True)
class EnvironmentReview:
    environment: str
    workloads: tuple[WorkloadChange, ...] = ()
    projects: tuple[ProjectChange, ...] = ()
    destructive: tuple[str, ...] = ()
    removed: bool = False                # the whole environment is gone from the inputs


@dataclass(frozen=True)
class Review:
    environments: tuple[EnvironmentReview, ...]
    warnings: tuple[Diagnostic, ...]
    files_changed: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def destructive(self) -> int:
        return sum(len(e.destructive) for e in self.environments)


def _shown(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return f"{value[0]}-{value[1]}"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    if isinstance(value, dict) and "kind" in value:
        subjects = value.get("subjects") or []
        return str(value["kind"]) + (f" ({', '.join(subjects)})" if subjects else "")
    return "-" if value is None else str(value)


def _facts(w: dict[str, Any]) -> str:
    return (f"{w['model']}, {w['profile']}, {w['gpusPerReplica']} GPU x {_shown(w['replicas'])} replicas on "
            f"{_shown(w['gpuType'])}, {_shown(w['access'])}, {w['scaling']}, {w['store']}")


def _widened(before: dict[str, Any], after: dict[str, Any]) -> bool:
    if EXPOSURE_RANK.get(after["kind"], 3) > EXPOSURE_RANK.get(before["kind"], 3):
        return True
    return after["kind"] == before["kind"] and bool(set(after["subjects"]) - set(before["subjects"]))


def _over(use: str, bound: str | None) -> bool:
    return bound is not None and bound != "-1" and float(use) > float(bound)


def review_environment(env: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
                       old: Objects, new: Objects) -> EnvironmentReview:
    old_workloads = (before or {}).get("workloads", {})
    new_workloads = (after or {}).get("workloads", {})
    changes: list[WorkloadChange] = []
    destructive: list[str] = []
    for key in sorted(old_workloads.keys() | new_workloads.keys()):
        was, now = old_workloads.get(key), new_workloads.get(key)
        if was is None:
            changes.append(WorkloadChange(key, "added", _facts(now), now.get("source", "")))
            if now["access"]["exposed"]:
                destructive.append(f"exposes {key}: {_shown(now['access'])}")
        elif now is None:
            changes.append(WorkloadChange(key, "removed", _facts(was), was.get("source", "")))
        else:
            fields = tuple(FieldChange(label, _shown(was.get(name)), _shown(now.get(name)))
                           for name, label in FIELDS if was.get(name) != now.get(name))
            if fields:
                changes.append(WorkloadChange(key, "changed", _facts(now), now.get("source", ""), fields))
            if _widened(was["access"], now["access"]):
                destructive.append(f"widens the exposure of {key}: {_shown(was['access'])} -> {_shown(now['access'])}")
    for ref in sorted(old.keys() - new.keys()):
        if ref[0] in LOSSES:
            kind, namespace, name = ref
            destructive.append(f"deletes {kind} {namespace + '/' if namespace else ''}{name}: {LOSSES[kind]}")
    for ref in sorted(old.keys() & new.keys()):
        if ref[0] == "PersistentVolumeClaim":
            was_spec, now_spec = old[ref].get("spec", {}), new[ref].get("spec", {})
            changed = [f for f in IMMUTABLE_CLAIM_FIELDS if was_spec.get(f) != now_spec.get(f)]
            if changed:
                destructive.append(f"replaces PersistentVolumeClaim {ref[1]}/{ref[2]}: {', '.join(changed)} cannot "
                                   "change in place, so the claim must be deleted and created again (its data is lost)")
    projects: list[ProjectChange] = []
    old_projects, new_projects = (before or {}).get("projects", {}), (after or {}).get("projects", {})
    for name in sorted(new_projects):
        now = new_projects[name]
        was = old_projects.get(name, {"gpusGuaranteed": "0", "gpusPeak": "0"})
        if (was["gpusGuaranteed"], was["gpusPeak"]) != (now["gpusGuaranteed"], now["gpusPeak"]) or name not in old_projects:
            projects.append(ProjectChange(name, now["gpuQuota"], now["gpuLimit"],
                                          (was["gpusGuaranteed"], now["gpusGuaranteed"]), (was["gpusPeak"], now["gpusPeak"])))
        if _over(now["gpusPeak"], now["gpuLimit"]) and not _over(was["gpusPeak"], was.get("gpuLimit")):
            destructive.append(f"project {name} exceeds its GPU limit at peak: {now['gpusPeak']} of {now['gpuLimit']}")
    return EnvironmentReview(env, tuple(changes), tuple(projects), tuple(destructive), removed=after is None)


def review(before: dict[str, dict[str, Any] | None], after: dict[str, dict[str, Any]], old: dict[str, Objects],
           new: dict[str, Objects], warnings: Sequence[Diagnostic], files_changed: int) -> Review:
    envs = tuple(review_environment(env, before.get(env), after.get(env), old.get(env, {}), new.get(env, {}))
                 for env in sorted(before.keys() | after.keys()))
    counts = {status: sum(1 for e in envs for w in e.workloads if w.status == status)
              for status in ("added", "changed", "removed")}
    return Review(envs, tuple(sorted(warnings)), files_changed, counts)


# ----------------------------------------------------------------------------------------------- formats

SIGN = {"added": "+", "changed": "~", "removed": "-"}


def _headline(r: Review) -> str:
    c = r.counts
    loud = f"; {r.destructive} destructive" if r.destructive else ""
    return (f"nimgen plan: {c['added']} added, {c['changed']} changed, {c['removed']} removed{loud}; "
            f"{r.files_changed} file(s) would change")


def as_text(r: Review) -> str:
    lines: list[str] = []
    for e in r.environments:
        if not (e.workloads or e.projects or e.destructive or e.removed):
            continue
        lines.append(f"environment {e.environment}" + (" (removed)" if e.removed else ""))
        for d in e.destructive:
            lines.append(f"  !! DESTRUCTIVE: {d}")
        for w in e.workloads:
            lines.append(f"  {SIGN[w.status]} {w.workload}: {w.facts}")
            lines.extend(f"      {f.field}: {f.before} -> {f.after}" for f in w.fields)
        for p in e.projects:
            lines.append(f"  project {p.project}: GPUs guaranteed {p.guaranteed[0]} -> {p.guaranteed[1]}, peak "
                         f"{p.peak[0]} -> {p.peak[1]} (quota {p.quota}, limit {p.limit})")
    lines.extend(w.text() for w in r.warnings)
    lines.append(_headline(r))
    return "\n".join(safe(line) for line in lines) + "\n"


def as_json(r: Review) -> str:
    data = {"environments": [asdict(e) for e in r.environments if e.workloads or e.projects or e.destructive or e.removed],
            "warnings": [asdict(w.shown()) for w in r.warnings], "filesChanged": r.files_changed,
            "counts": r.counts, "destructive": r.destructive}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _cell(text: str) -> str:
    return safe(text).replace("|", "\\|").replace("\n", " ")


def as_markdown(r: Review) -> str:
    out = ["## nimgen plan", "", _cell(_headline(r).removeprefix("nimgen plan: ")).capitalize(), ""]
    loud = [(e.environment, d) for e in r.environments for d in e.destructive]
    if loud:
        out += ["> [!CAUTION]", "> Destructive changes:"] + [f"> - **{env}**: {_cell(d)}" for env, d in loud] + [""]
    for e in r.environments:
        if not (e.workloads or e.projects or e.removed):
            continue
        out += [f"### {e.environment}" + (" (removed)" if e.removed else ""), ""]
        if e.workloads:
            out += ["| | workload | what it is |", "|---|---|---|"]
            out += [f"| {w.status} | `{w.workload}` | {_cell(w.facts)} |" for w in e.workloads]
            out.append("")
            details = [w for w in e.workloads if w.fields]
            if details:
                out += ["<details><summary>What changes</summary>", ""]
                for w in details:
                    out += [f"**`{w.workload}`**", "", "| field | before | after |", "|---|---|---|"]
                    out += [f"| {f.field} | {_cell(f.before)} | {_cell(f.after)} |" for f in w.fields]
                    out.append("")
                out += ["</details>", ""]
        if e.projects:
            out += ["| project | GPU quota | GPU limit | guaranteed | peak |", "|---|---|---|---|---|"]
            out += [f"| {p.project} | {p.quota} | {p.limit} | {p.guaranteed[0]} → {p.guaranteed[1]} | "
                    f"{p.peak[0]} → {p.peak[1]} |" for p in e.projects]
            out.append("")
    if r.warnings:
        out += ["<details><summary>Warnings</summary>", ""] + [f"- {_cell(w.text())}" for w in r.warnings]
        out += ["", "</details>", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _annotation(level: str, file: str, message: str) -> str:
    return f"::{level} file={github_property(safe(file))},line=1,title=nimgen plan::{github_data(safe(message))}"


def as_github(r: Review) -> str:
    lines = [w.github() for w in r.warnings]
    for e in r.environments:
        source = f"environments/{e.environment}/environment.yaml"
        lines += [_annotation("warning", source, f"{e.environment}: destructive: {d}") for d in e.destructive]
        for w in e.workloads:
            detail = "; ".join(f"{f.field}: {f.before} -> {f.after}" for f in w.fields) or w.facts
            lines.append(_annotation("notice", w.source or source, f"{e.environment}: {w.status} {w.workload}: {detail}"))
    lines.append(f"::notice title=nimgen plan::{_headline(r)}")
    return "\n".join(lines) + "\n"


RENDERERS = {"text": as_text, "json": as_json, "markdown": as_markdown, "github": as_github}


def render_review(r: Review, fmt: str) -> str:
    return RENDERERS[fmt](r)
