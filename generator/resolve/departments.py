"""Departments: groups of projects sharing a quota, a parent KAI queue over the projects' queues, and the checks
that the projects' quotas fit the department's."""

from __future__ import annotations

from decimal import Decimal

from ..diagnostics import WARNING, Diagnostic
from ..inputs.load import Document
from ..model import Department, Environment, KaiScheduler, Meta, Project
from ..quantities import binary, canonical, parse, plain
from . import naming
from .context import suggest
from .projects import gpu_budget, kai_queue, queue_scheduling


def resolve_departments(doc: Document, env: Environment) -> tuple[tuple[Department, ...], list[Diagnostic]]:
    found: list[Department] = []
    problems: list[Diagnostic] = []
    seen: set[str] = set()
    for i, spec in enumerate(doc.data["spec"].get("departments", ())):
        at = ("spec", "departments", i)
        name = spec["name"]
        if name in seen:
            problems.append(doc.diagnostic((*at, "name"), f"duplicate department '{name}'"))
            continue
        seen.add(name)
        budget, found_problems = gpu_budget(doc, at, "department")
        problems.extend(found_problems)
        quota = spec["quota"]
        cpu = canonical(quota["cpu"]) if "cpu" in quota else None
        memory = canonical(quota["memory"]) if "memory" in quota else None
        queue = None
        if isinstance(env.scheduler, KaiScheduler):
            # a department's queue is a queue without a parent; its projects' queues name it (KAI's hierarchical
            # queues: the parent's quota is shared by its children, see docs/CLUSTER.md)
            queue = kai_queue(Meta(name, naming.department_labels(env.labels, name)), budget,
                              spec.get("overQuota", {}).get("weight", 1), cpu, memory, None, queue_scheduling(spec))
        found.append(Department(name, doc.file, budget, cpu, memory, queue))
    return tuple(found), problems


def department_problems(doc: Document, env: Environment, departments: tuple[Department, ...],
                        projects: dict[str, Project], project_docs: dict[str, Document]) -> list[Diagnostic]:
    """Every project names a known department; the projects of a department fit its quota."""
    problems: list[Diagnostic] = []
    by_name = {d.name: d for d in departments}
    for project in projects.values():
        if project.department is not None and project.department not in by_name:
            problems.append(project_docs[project.name].diagnostic(
                ("spec", "department"), f"unknown department '{project.department}' in environment {env.name}",
                suggest(project.department, list(by_name))
                or "declare it in the Environment's spec.departments: [{name, quota: {gpus}}]"))
        if project.name in by_name and isinstance(env.scheduler, KaiScheduler):
            problems.append(project_docs[project.name].diagnostic(
                ("metadata", "name"), f"project '{project.name}' has the name of a department",
                "KAI queues are cluster-wide and named after their project or department: rename one of them"))
    for department in departments:
        members = sorted((p for p in projects.values() if p.department == department.name), key=lambda p: p.name)
        at = _department_index(doc, department.name)
        problems.extend(_fit(doc, at, department, members, project_docs))
    return problems


def _department_index(doc: Document, name: str) -> int:
    return next(i for i, d in enumerate(doc.data["spec"]["departments"]) if d["name"] == name)


def _fit(doc: Document, index: int, department: Department, members: list[Project],
         project_docs: dict[str, Document]) -> list[Diagnostic]:
    problems = []

    def share(p: Project, amount: str) -> str:
        file, line, _ = project_docs[p.name].where(("spec", "quota"))
        return f"{p.name} {amount} ({file}:{line})"

    gpus = sum((p.budget.quota for p in members), Decimal(0))
    if gpus > department.budget.quota:
        problems.append(doc.diagnostic(
            ("spec", "departments", index, "quota", "gpus"),
            f"the projects of department {department.name} are guaranteed {plain(gpus)} GPUs, its quota is "
            f"{plain(department.budget.quota)}",
            "projects' quotas share their department's: " + ", ".join(share(p, plain(p.budget.quota)) for p in members)
            + "; raise the department's quota.gpus or lower a project's"))
    for what, own, show in (("cpu", department.cpu, plain), ("memory", department.memory, binary)):
        if own is None:
            continue
        amounts = [(p, getattr(p, what)) for p in members if getattr(p, what) is not None]
        total = sum((parse(a) for _, a in amounts), Decimal(0))
        if total > parse(own):
            problems.append(doc.diagnostic(
                ("spec", "departments", index, "quota", what),
                f"the projects of department {department.name} are guaranteed {show(total)} {what}, its quota is {own}",
                "projects' quotas share their department's: " + ", ".join(share(p, a) for p, a in amounts)
                + f"; raise the department's quota.{what} or lower a project's"))
    if department.budget.limit is not None and department.queue is not None:   # a parent queue's limit binds under KAI
        for p in members:
            if p.budget.limit is None or p.budget.limit > department.budget.limit:
                limit = "no limit" if p.budget.limit is None else f"a limit of {plain(p.budget.limit)} GPUs"
                problems.append(project_docs[p.name].diagnostic(
                    ("spec", "overQuota", "gpuLimit") if "gpuLimit" in project_docs[p.name].data["spec"].get("overQuota", {})
                    else ("spec", "quota", "gpus"),
                    f"project {p.name} has {limit}, above its department {department.name}'s limit of "
                    f"{plain(department.budget.limit)}", "KAI holds a queue to its parent's limit: replicas beyond it "
                    "stay pending; lower overQuota.gpuLimit to say so", severity=WARNING))
    return problems
