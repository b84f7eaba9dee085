"""The `nimgen` command line: parses arguments, calls a use case, prints what it returns. No logic here."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import ParamSpec, TypeVar

import click

from . import usecases
from .diagnostics import BuildFailed, Diagnostic, errors_in
from .report.diagnostics import render
from .report.diff import format_differences
from .report.explain import explain_workload

EXIT_USER_ERROR = 1
EXIT_BUG = 2

_P = ParamSpec("_P")
_R = TypeVar("_R")


def report_errors(command: Callable[_P, _R]) -> Callable[_P, _R]:
    """User errors print as diagnostics with exit 1; anything else is a bug: exit 2 with its traceback."""

    @wraps(command)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        ctx = click.get_current_context()
        fmt = ctx.find_root().params.get("fmt", "text")
        try:
            return command(*args, **kwargs)
        except BuildFailed as failed:
            sys.stderr.write(render(failed.diagnostics, fmt))
            errors = sum(1 for d in failed.diagnostics if d.severity == "error")
            if fmt == "text":
                untouched = "; out/ was not changed" if ctx.info_name == "build" else ""
                click.echo(f"nimgen: {errors} error(s){untouched}", err=True)
            ctx.exit(EXIT_USER_ERROR)
        except usecases.NotFound as missing:
            raise click.ClickException(str(missing)) from None
        except (click.exceptions.Exit, click.ClickException):
            raise
        except Exception:  # noqa: BLE001 - the last line of defence
            traceback.print_exc()
            click.echo("nimgen: internal error (a bug): please report it with the traceback above", err=True)
            ctx.exit(EXIT_BUG)

    return wrapper


@click.group()
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=".",
              help="The repository holding environments/, templates/ and out/.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text",
              help="How problems are printed.")
@click.pass_context
def main(ctx: click.Context, root: Path, fmt: str) -> None:
    """nimgen: compile NIM inference workloads into reviewed Kubernetes manifests."""
    ctx.obj = {"root": root.resolve(), "fmt": fmt}


def _warn(ctx: click.Context, warnings: Sequence[Diagnostic]) -> None:
    if warnings:
        sys.stderr.write(render(warnings, ctx.obj["fmt"]))


@main.command()
@click.option("--env", "envs", multiple=True, help="Build only this environment (repeatable).")
@click.option("--no-cache", is_flag=True, help="Rebuild every file instead of reusing verified ones.")
@click.pass_context
@report_errors
def build(ctx: click.Context, envs: tuple[str, ...], no_cache: bool) -> None:
    """Render out/<env>/ for every environment; out/ changes only when the whole build verified."""
    built = usecases.build(ctx.obj["root"], list(envs) or None, use_cache=not no_cache,
                           on_wait=lambda message: click.echo(message, err=True))
    _warn(ctx, built.compiled.warnings)
    workloads = sum(len(r.workloads) for r in built.compiled.resolved.values())
    click.echo(f"nimgen: built {len(built.compiled.files)} environment(s), {workloads} workload(s); "
               f"{built.changed} environment folder(s) changed")


@main.command()
@click.pass_context
@report_errors
def check(ctx: click.Context) -> None:
    """Fail when out/ differs from a fresh build (changed, missing or extra files)."""
    found = usecases.diff_out(ctx.obj["root"], trust_cache=False)
    click.echo(format_differences(found), nl=False)
    if found:
        click.echo(f"nimgen check: {len(found)} difference(s) between out/ and a fresh build; run 'make build'", err=True)
        ctx.exit(EXIT_USER_ERROR)
    click.echo("nimgen check: out/ matches a fresh build")


@main.command()
@click.pass_context
@report_errors
def plan(ctx: click.Context) -> None:
    """Show what a build would change in out/, without writing."""
    found = usecases.diff_out(ctx.obj["root"])
    click.echo(format_differences(found), nl=False)
    click.echo(f"nimgen plan: {len(found)} file(s) would change")


@main.command()
@click.option("--env", "envs", multiple=True, help="Validate only this environment (repeatable).")
@click.pass_context
@report_errors
def validate(ctx: click.Context, envs: tuple[str, ...]) -> None:
    """Load, validate and resolve the inputs without rendering anything."""
    compiled = usecases.validate(ctx.obj["root"], list(envs) or None)
    _warn(ctx, compiled.warnings)
    click.echo(f"nimgen: inputs of {len(compiled.resolved)} environment(s) are valid")


@main.command()
@click.argument("env")
@click.argument("workload")
@click.option("--project", help="The workload's project, when the name is used in several.")
@click.pass_context
@report_errors
def explain(ctx: click.Context, env: str, workload: str, project: str | None) -> None:
    """The effective spec of a workload with the origin of each value, and its profile decision."""
    resolved, found = usecases.find_workload(ctx.obj["root"], env, workload, project)
    click.echo(explain_workload(resolved.environment, found), nl=False)


@main.command()
@click.option("--env", "envs", multiple=True, help="Verify only this environment (repeatable).")
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
    click.echo(f"nimgen verify: {verified.objects} object(s) in {verified.environments} environment(s) pass the "
               f"Kubernetes schemas, nimgen's CRD schemas{extra} and the cluster rules")


@main.command("crd-schemas")
@click.argument("files", nargs=-1)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder to write {group}/{kind}_{version}.json into (created when missing).")
@click.pass_context
@report_errors
def crd_schemas(ctx: click.Context, files: tuple[str, ...], out: Path) -> None:
    """Convert CustomResourceDefinitions (FILE..., default or '-' stdin; e.g. 'kubectl get crd -o yaml') into
    JSON Schemas for 'nimgen verify --schema-location', as kubeconform's openapi2jsonschema does."""
    converted = usecases.crd_schemas(list(files), out, sys.stdin)
    _warn(ctx, converted.problems)
    click.echo(f"nimgen crd-schemas: wrote {len(converted.schemas)} schema(s) of {converted.crds} "
               f"CustomResourceDefinition(s) to {out}")
