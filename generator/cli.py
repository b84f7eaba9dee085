"""The `nimgen` command line: build, check, plan, validate, explain. Thin: the work is in the stages."""

from __future__ import annotations

import difflib
import shutil
import sys
import traceback
from functools import wraps
from pathlib import Path

import click

from . import emit
from .diagnostics import BuildFailed, render
from .pipeline import compile_all

EXIT_USER_ERROR = 1
EXIT_BUG = 2


def report_errors(command):
    """User errors print as diagnostics with exit 1; anything else is a bug: exit 2 with its traceback."""

    @wraps(command)
    def wrapper(*args, **kwargs):
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


def _warn(ctx: click.Context, warnings) -> None:
    if warnings:
        sys.stderr.write(render(warnings, ctx.obj["fmt"]))


@main.command()
@click.option("--env", "envs", multiple=True, help="Build only this environment (repeatable).")
@click.option("--no-cache", is_flag=True, help="Rebuild every file instead of reusing verified ones.")
@click.pass_context
@report_errors
def build(ctx: click.Context, envs: tuple[str, ...], no_cache: bool) -> None:
    """Render out/<env>/ for every environment; out/ changes only when the whole build verified."""
    root = ctx.obj["root"]
    compiled = compile_all(root, list(envs) or None, use_cache=not no_cache)
    _warn(ctx, compiled.warnings)
    out = root / "out"
    changed = 0
    for env, files in compiled.files.items():
        current = emit.read_tree(out / env)
        if current != {k: v.encode() for k, v in files.items()}:
            emit.write_tree(files, out / env)
            changed += 1
    if not envs:  # a full build also removes environments that no longer exist
        for stale in sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) if out.exists() else []:
            if stale.name not in compiled.files:
                shutil.rmtree(stale)
                changed += 1
    click.echo(f"nimgen: built {len(compiled.files)} environment(s), "
               f"{sum(len(r.workloads) for r in compiled.resolved.values())} workload(s); "
               f"{changed} environment folder(s) changed")


def differences(root: Path) -> list[tuple[str, str, str]]:
    """(status, path, unified diff) for every difference between out/ and a fresh build."""
    compiled = compile_all(root)
    out = root / "out"
    found = []
    envs = set(compiled.files)
    existing = {p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")} if out.exists() else set()
    for env in sorted(envs | existing):
        fresh = {k: v.encode() for k, v in compiled.files.get(env, {}).items()}
        current = emit.read_tree(out / env)
        for rel in sorted(fresh.keys() | current.keys()):
            shown = f"out/{env}/{rel}"
            if rel not in current:
                found.append(("missing", shown, ""))
            elif rel not in fresh:
                found.append(("extra", shown, ""))
            elif current[rel] != fresh[rel]:
                diff = difflib.unified_diff(current[rel].decode(errors="replace").splitlines(keepends=True),
                                            fresh[rel].decode().splitlines(keepends=True),
                                            fromfile=f"{shown} (committed)", tofile=f"{shown} (fresh build)")
                found.append(("changed", shown, "".join(diff)))
    return found


def print_differences(root: Path) -> list[tuple[str, str, str]]:
    found = differences(root)
    for status, path, diff in found:
        click.echo(f"{status}: {path}")
        if diff:
            click.echo(diff, nl=False)
    return found


@main.command()
@click.pass_context
@report_errors
def check(ctx: click.Context) -> None:
    """Fail when out/ differs from a fresh build (changed, missing or extra files)."""
    found = print_differences(ctx.obj["root"])
    if found:
        click.echo(f"nimgen check: {len(found)} difference(s) between out/ and a fresh build; run 'make build'", err=True)
        ctx.exit(EXIT_USER_ERROR)
    click.echo("nimgen check: out/ matches a fresh build")


@main.command()
@click.pass_context
@report_errors
def plan(ctx: click.Context) -> None:
    """Show what a build would change in out/, without writing."""
    found = print_differences(ctx.obj["root"])
    click.echo(f"nimgen plan: {len(found)} file(s) would change")


@main.command()
@click.option("--env", "envs", multiple=True, help="Validate only this environment (repeatable).")
@click.pass_context
@report_errors
def validate(ctx: click.Context, envs: tuple[str, ...]) -> None:
    """Load, validate and resolve the inputs without rendering anything."""
    compiled = compile_all(ctx.obj["root"], list(envs) or None, render=False)
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
    from .explain import explain_workload

    compiled = compile_all(ctx.obj["root"], [env], render=False)
    matches = [w for w in compiled.resolved[env].workloads if w.name == workload and (project is None or w.project.name == project)]
    if not matches:
        raise click.ClickException(f"no workload '{workload}' in environment {env}")
    if len(matches) > 1:
        raise click.ClickException(f"workload '{workload}' exists in several projects: use --project")
    click.echo(explain_workload(compiled.resolved[env].environment, matches[0]), nl=False)
