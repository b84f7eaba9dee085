"""Stage 3, resolve: validated documents in, the frozen model (generator/model) out.

Every decision is made here, each concern in its own module (see docs/ARCHITECTURE.md for the table of
decisions and their modules). All cross-file rules live here too. Every problem becomes a Diagnostic at the
value that caused it; resolve keeps going to report as many as it can.
"""

from __future__ import annotations

from ..diagnostics import NOTE, Diagnostic
from ..inputs.load import Document
from ..inputs.reader import InputSet
from ..model import Environment, Project, ResolvedEnvironment, WakeByKedaHttp, Workload
from .capacity import capacity
from .catalog import catalog_model
from .context import Gallery
from .departments import department_problems, resolve_departments
from .environment import environment_problems, resolve_environment
from .mesh import NamespaceTraits, namespace_traits, pod_security_problems
from .prerequisites import exposures, prerequisites
from .projects import quota_problems, resolve_project
from .workload import resolve_workload

__all__ = ["resolve"]


# Namespaces a project may never claim: nimgen would put a quota, a default-deny policy and mesh and Pod
# Security labels into them, and trust them for what they are not.
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


def reserved_namespaces(env: Environment) -> dict[str, str]:
    found = {ns: "Kubernetes" for ns in SYSTEM_NAMESPACES}
    found[env.monitoring_namespace] = "the monitoring stack (spec.monitoring.namespace)"
    found[env.knative_namespace] = "Knative (spec.knative.namespace)"
    if isinstance(env.scale_from_zero, WakeByKedaHttp):
        found[env.scale_from_zero.interceptor_namespace] = "the KEDA HTTP interceptor"
    found[env.gateway.namespace] = "the ingress gateway (spec.ingress.gateway)"
    return found


def gallery_of(inputs: InputSet) -> Gallery:
    docs = inputs.gallery
    models = {name: catalog_model(doc) for name, doc in docs.get("NimModel", {}).items()}
    return Gallery(docs.get("ComputeTemplate", {}), docs.get("DataSource", {}), models, inputs.invalid)


def resolve(env_name: str, inputs: InputSet) -> tuple[ResolvedEnvironment | None, list[Diagnostic]]:
    """The environment's model, or None with the problems that stop it (warnings come back either way)."""
    if inputs.environment is None:
        raise ValueError("resolve needs the environment document")
    env = resolve_environment(inputs.environment, env_name)
    problems = environment_problems(inputs.environment, env)
    gallery = gallery_of(inputs)
    departments, found_problems = resolve_departments(inputs.environment, env)
    problems.extend(found_problems)

    projects: dict[str, Project] = {}
    project_docs: dict[str, Document] = {}
    namespaces: dict[str, str] = {}
    traits = namespace_traits(inputs.workloads)
    problems.extend(pod_security_problems(inputs.environment, env, traits))
    for doc in inputs.projects:
        project, found = resolve_project(doc, env, traits.get(doc.data["metadata"]["name"], NamespaceTraits(False, False)))
        problems.extend(found)
        if project.name in projects:
            problems.append(doc.diagnostic(("metadata", "name"), f"duplicate project '{project.name}'",
                                           f"already defined in {projects[project.name].sources[-1]}"))
            continue
        reserved = reserved_namespaces(env)
        if project.namespace in reserved:
            at = ("spec", "namespace") if "namespace" in doc.data["spec"] else ("metadata", "name")
            problems.append(doc.diagnostic(at, f"namespace '{project.namespace}' belongs to {reserved[project.namespace]}",
                                           "a project owns its namespace (quota, default-deny, Pod Security, mesh "
                                           "labels): give it a namespace of its own"))
            continue
        if project.namespace in namespaces:
            problems.append(doc.diagnostic(("spec", "namespace"), f"namespace '{project.namespace}' is already used by project "
                                           f"'{namespaces[project.namespace]}'"))
        projects[project.name] = project
        project_docs[project.name] = doc
        namespaces[project.namespace] = project.name
    problems.extend(department_problems(inputs.environment, env, departments, projects, project_docs))

    workloads: list[Workload] = []
    seen: dict[tuple[str, str], Document] = {}
    dropped: dict[str, list[str]] = {}   # a disabled project -> the workloads that go with it
    for doc in inputs.workloads:
        meta = doc.data["metadata"]
        owner = projects.get(meta["project"])
        if owner is None:
            if ("Project", meta["project"]) in inputs.disabled:
                file, line, _ = doc.where(("metadata", "project"))
                dropped.setdefault(meta["project"], []).append(f"{meta['name']} ({file}:{line})")
            elif ("Project", meta["project"]) not in gallery.invalid:  # else the project file's own errors are reported
                known = ", ".join(sorted(projects)) or "none"
                problems.append(doc.diagnostic(("metadata", "project"), f"unknown project '{meta['project']}' in "
                                               f"environment {env_name}",
                                               f"declare it in environments/{env_name}/projects/{meta['project']}.yaml "
                                               f"(known projects: {known})"))
            continue
        key = (owner.name, meta["name"])
        if key in seen:
            first = seen[key].where(("metadata", "name"))
            problems.append(doc.diagnostic(("metadata", "name"), f"duplicate workload name '{meta['name']}' in project {owner.name}",
                                           f"first defined at {first[0]}:{first[1]}"))
            continue
        seen[key] = doc
        workload, found = resolve_workload(doc, env, owner, gallery, traits[owner.name])
        problems.extend(found)
        if workload is not None:
            workloads.append(workload)

    for off, names in sorted(dropped.items()):
        problems.append(inputs.disabled[("Project", off)].diagnostic(
            ("enabled",), f"project {off} is disabled in environment {env_name}, and with it its workloads: "
            f"{', '.join(sorted(names))}", "to keep a workload, move it to another project", key=True, severity=NOTE))
    problems.extend(quota_problems(projects, workloads, seen))
    ordered = tuple(sorted(workloads, key=lambda w: (w.project, w.name)))
    uses, found_problems = capacity(env, ordered, seen)
    problems.extend(found_problems)
    if any(p.severity == "error" for p in problems):
        return None, problems
    chosen = tuple(projects[k] for k in sorted(projects))
    return ResolvedEnvironment(env, chosen, ordered, departments=departments, capacity=uses,
                               prerequisites=prerequisites(env, chosen, ordered), exposures=exposures(env, ordered)), problems
