"""The `nimgen` command line: parses arguments, calls a use case, prints what it returns. No logic here."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from . import usecases
from .diagnostics import BuildFailed, Diagnostic, errors_in
from .nodejs import NodeMissing
from .report.diagnostics import render
from .report.catalog import render_models, render_templates
from .report.diff import render_differences
from .report.plan import render_review
from .report.explain import explain_workload

EXIT_USER_ERROR = 1
EXIT_BUG = 2

_P = ParamSpec("_P")
_R = TypeVar("_R")


FORMATS = ("text", "json", "github", "markdown")


def remember_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """--format is accepted before the subcommand (the group's) and after it (the subcommand's); the later wins."""
    if value is not None:
        ctx.ensure_object(dict)["fmt"] = value
        ctx.find_root().ensure_object(dict)["fmt"] = value


def format_option(command: Callable[_P, _R]) -> Callable[_P, _R]:
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default=None, expose_value=False,
                        callback=remember_format, is_eager=True,
                        help="How everything the command prints is written (also accepted before the command).")(command)


def fmt_of(ctx: click.Context) -> str:
    return str(ctx.find_root().ensure_object(dict).get("fmt", "text"))


def report_errors(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """User errors print as diagnostics with exit 1; anything else is a bug: exit 2 with its traceback."""

    @wraps(command)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        ctx = click.get_current_context()
        fmt = fmt_of(ctx)
        try:
            return command(*args, **kwargs)
        except BuildFailed as failed:
            if sys.stderr.isatty():
                sys.stderr.write("\r\033[K")          # a progress line, if one was shown
            sys.stderr.write(render(failed.diagnostics, fmt))
            errors = sum(1 for d in failed.diagnostics if d.severity == "error")
            if fmt == "text":
                untouched = "; out/ was not changed" if ctx.info_name == "build" else ""
                click.echo(f"nimgen: {errors} error(s){untouched}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except usecases.NotFound as missing:
            raise click.ClickException(str(missing)) from None
        except NodeMissing as missing:
            click.echo(f"nimgen: {missing}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception:  # noqa: BLE001 - the last line of defence
            traceback.print_exc()
            click.echo("nimgen: internal error (a bug): please report it with the traceback above", err=True)
            ctx.exit(EXIT_BUG)

    return wrapper


@click.group()
@click.version_option(package_name="nimgen", prog_name="nimgen")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=".",
              help="The repository holding environments/, templates/ and out/.")
@format_option
@click.pass_context
def main(ctx: click.Context, root: Path) -> None:
    """nimgen: compile NIM inference workloads into reviewed Kubernetes manifests."""
    ctx.ensure_object(dict)["root"] = root.resolve()


def _warn(ctx: click.Context, warnings: Sequence[Diagnostic]) -> None:
    if warnings:
        sys.stderr.write(render(warnings, fmt_of(ctx)))


def _progress() -> Callable[[str], None] | None:
    """On a terminal, one line that says what a long build is doing, rewritten in place; nothing otherwise (logs
    and pipes stay quiet)."""
    if not sys.stderr.isatty():
        return None
    return lambda message: click.echo(f"\r\033[K{message}", err=True, nl=False)


def _progress_done() -> None:
    if sys.stderr.isatty():
        click.echo("\r\033[K", err=True, nl=False)


def _done(ctx: click.Context, line: str, data: dict[str, object]) -> None:
    """A command's closing line, in the chosen format (JSON: the same facts as an object)."""
    fmt = fmt_of(ctx)
    if fmt == "json":
        click.echo(json.dumps(data, sort_keys=True))
    elif fmt == "github":
        click.echo(f"::notice title=nimgen::{line}")
    else:
        click.echo(line)


ENV_OPTION = click.option("--env", "envs", multiple=True, help="Only this environment (repeatable).")


@main.command()
@ENV_OPTION
@click.option("--no-cache", is_flag=True, help="Rebuild every file instead of reusing verified ones.")
@format_option
@click.pass_context
@report_errors
def build(ctx: click.Context, envs: tuple[str, ...], no_cache: bool) -> None:
    """Render out/<env>/ for every environment; out/ changes only when the whole build verified."""
    built = usecases.build(ctx.obj["root"], list(envs) or None, use_cache=not no_cache,
                           on_wait=lambda message: click.echo(message, err=True), progress=_progress())
    _progress_done()
    _warn(ctx, built.warnings)
    how = "; nothing changed since the last build" if built.nothing_to_do else ""
    _done(ctx, f"nimgen: built {built.environments} environment(s), {built.workloads} workload(s); "
               f"{built.changed} environment folder(s) changed{how}",
          {"environments": built.environments, "workloads": built.workloads, "changed": built.changed,
           "nothingToDo": built.nothing_to_do})


@main.command()
@ENV_OPTION
@format_option
@click.pass_context
@report_errors
def check(ctx: click.Context, envs: tuple[str, ...]) -> None:
    """Fail when out/ differs from a fresh build (changed, missing or extra files); print the build's warnings."""
    found = usecases.diff_out(ctx.obj["root"], list(envs) or None, trust_cache=False)
    _warn(ctx, found.warnings)
    click.echo(render_differences(found.differences, fmt_of(ctx)), nl=False)
    if found.differences:
        if fmt_of(ctx) == "text":
            click.echo(f"nimgen check: {len(found.differences)} difference(s) between out/ and a fresh build; "
                       "run 'make build'", err=True)
        ctx.exit(EXIT_USER_ERROR)
    _done(ctx, "nimgen check: out/ matches a fresh build", {"differences": 0, "warnings": len(found.warnings)})


@main.command()
@ENV_OPTION
@format_option
@click.pass_context
@report_errors
def plan(ctx: click.Context, envs: tuple[str, ...]) -> None:
    """The review summary of what a build would change: workloads added, changed and removed, the projects' GPU
    use, destructive changes and the build's warnings (nothing is written)."""
    planned = usecases.plan(ctx.obj["root"], list(envs) or None)
    click.echo(render_review(planned, fmt_of(ctx)), nl=False)


@main.command()
@ENV_OPTION
@format_option
@click.pass_context
@report_errors
def diff(ctx: click.Context, envs: tuple[str, ...]) -> None:
    """Unified diffs between out/ and a fresh build, new and deleted files with their content (nothing is written)."""
    found = usecases.diff_out(ctx.obj["root"], list(envs) or None)
    _warn(ctx, found.warnings)
    click.echo(render_differences(found.differences, fmt_of(ctx)), nl=False)
    _done(ctx, f"nimgen diff: {len(found.differences)} file(s) would change", {"files": len(found.differences)})


@main.command()
@ENV_OPTION
@format_option
@click.pass_context
@report_errors
def validate(ctx: click.Context, envs: tuple[str, ...]) -> None:
    """Load, validate and resolve the inputs without rendering anything."""
    compiled = usecases.validate(ctx.obj["root"], list(envs) or None)
    _warn(ctx, compiled.warnings)
    _done(ctx, f"nimgen: inputs of {len(compiled.resolved)} environment(s) are valid",
          {"environments": len(compiled.resolved), "warnings": len(compiled.warnings)})


@main.command()
@click.argument("env")
@click.argument("workload")
@click.option("--project", help="The workload's project, when the name is used in several.")
@format_option
@click.pass_context
@report_errors
def explain(ctx: click.Context, env: str, workload: str, project: str | None) -> None:
    """The effective spec of a workload with the origin of each value, and its profile decision."""
    resolved, found = usecases.find_workload(ctx.obj["root"], env, workload, project)
    click.echo(explain_workload(resolved.environment, found), nl=False)


@main.command()
@ENV_OPTION
@format_option
@click.option("--schema-location", "locations", multiple=True, type=click.Path(path_type=Path),
              help="A folder of {group}/{kind}_{version}.json schemas (kubeconform's layout) that objects must "
                   "also pass, e.g. written by 'nimgen crd-schemas' (repeatable).")
@click.pass_context
@report_errors
def verify(ctx: click.Context, envs: tuple[str, ...], locations: tuple[Path, ...]) -> None:
    """Verify the committed out/ against the Kubernetes schemas, nimgen's CRD schemas, each schema location and
    the cluster rules (what a cluster would not run as intended)."""
    verified = usecases.verify_out(ctx.obj["root"], list(envs) or None, list(locations))
    if errors_in(verified.problems):
        raise BuildFailed(verified.problems)
    _warn(ctx, verified.problems)
    extra = f", {len(locations)} schema location(s)" if locations else ""
    _done(ctx, f"nimgen verify: {verified.objects} object(s) in {verified.environments} environment(s) pass the "
               f"Kubernetes schemas, nimgen's CRD schemas{extra} and the cluster rules",
          {"objects": verified.objects, "environments": verified.environments})


@main.command("crd-schemas")
@click.argument("files", nargs=-1)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write {group}/{kind}_{version}.json into (created when missing).")
@format_option
@click.pass_context
@report_errors
def crd_schemas(ctx: click.Context, files: tuple[str, ...], out: Path) -> None:
    """Convert CustomResourceDefinitions (FILE..., default or '-' stdin; e.g. 'kubectl get crd -o yaml') into
    JSON Schemas for 'nimgen verify --schema-location', as kubeconform's openapi2jsonschema does."""
    converted = usecases.crd_schemas(list(files), out, sys.stdin)
    _warn(ctx, converted.problems)
    click.echo(f"nimgen crd-schemas: wrote {len(converted.schemas)} schema(s) of {converted.crds} "
               f"CustomResourceDefinition(s) to {out}")


def _listing_format(ctx: click.Context) -> str:
    """Listings have no annotations to make: GitHub's format prints them as text."""
    fmt = fmt_of(ctx)
    return "text" if fmt == "github" else fmt


@main.command()
@click.argument("model", required=False)
@click.option("--env", help="Also say which of this environment's node pools each profile fits, and why not.")
@format_option
@click.pass_context
@report_errors
def models(ctx: click.Context, model: str | None, env: str | None) -> None:
    """The NIM catalog: models and versions, and a MODEL's profiles (id, engine, precision, GPU, tp/pp, LoRA)."""
    click.echo(render_models(usecases.list_models(ctx.obj["root"], model, env), _listing_format(ctx)), nl=False)


@main.command()
@click.option("--env", required=True, help="The environment whose gallery to list.")
@format_option
@click.pass_context
@report_errors
def templates(ctx: click.Context, env: str) -> None:
    """The compute templates and data sources an environment sees (shared, overridden, its own)."""
    click.echo(render_templates(usecases.list_templates(ctx.obj["root"], env), _listing_format(ctx)), nl=False)


@main.command()
@click.argument("kind", required=False)
@click.pass_context
@report_errors
def schema(ctx: click.Context, kind: str | None) -> None:
    """The JSON Schema of an input KIND (Environment, Project, InferenceWorkload, ComputeTemplate, DataSource,
    NimModel), or the list of kinds and their schema files; editors validate inputs with them."""
    click.echo(usecases.input_schema(kind), nl=False)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@format_option
@click.pass_context
@report_errors
def init(ctx: click.Context, directory: Path) -> None:
    """Write a new repository into DIRECTORY (absent or empty) that builds as it stands: one environment, project
    and workload, the NIM catalog, a Makefile, a README, .gitignore and the CI workflow."""
    written = usecases.init(directory)
    _done(ctx, f"nimgen init: wrote {len(written)} file(s) into {directory}; next: cd {directory} && nimgen build",
          {"files": written})
