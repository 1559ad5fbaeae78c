"""``medic validate``: check policy files the way the agent will load them.

Meant for CI and for the editor loop: every problem in every file is printed on its
own line as ``file:line:column: policy 'name': message (hint: ...)``, then a summary;
the exit status is 0 when everything would load and 1 when anything would not.
``-o json`` prints the problems as objects; ``-o github`` as GitHub Actions
annotations (``::error file=...,line=...::``), then the summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from medic.cli.annotations import github_annotation
from medic.errors import ConfigError, PolicyWarning
from medic.policy.empty import no_policies
from medic.policy.loader import load_paths
from medic.policy.reach import escalation_warnings


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"1 {word}"
    return f"{count} {'policies' if word == 'policy' else word + 's'}"


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Agent config: check escalate.notify against its notifiers; its policy "
    "paths are the default PATHS.",
)
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(["text", "json", "github"]),
    default=None,
    help="text (the default): one line per problem; json: a list of problem objects; "
    "github: GitHub Actions annotations (::error file=...,line=...::message).",
)
@click.option("--allow-empty", is_flag=True, help="Exit 0 when no policy is found (else an error).")
# The option's old name, kept so existing scripts and CI jobs go on working.
@click.option("--format", "old_format", type=click.Choice(["text", "json"]), hidden=True)
def command(
    paths: tuple[Path, ...],
    config_path: Path | None,
    output: str | None,
    old_format: str | None,
    allow_empty: bool,
) -> None:
    """Validate policy files and directories (default: policies).

    Exit status 0 when every file is valid, 1 otherwise.
    """
    output_format = output or old_format or "text"
    notifiers: set[str] | None = None
    notices: list[PolicyWarning] = []
    targets = list(paths)
    if config_path is not None:
        from medic.config import load_config  # only with --config: it costs a tenth of the run

        try:
            config = load_config(config_path)
        except ConfigError as exc:
            click.echo(str(exc), err=True)
            raise SystemExit(1) from exc
        notifiers = set(config.notifiers)
        notices.extend(config.notices)
        targets = targets or list(config.policy_paths)
    targets = targets or [Path("policies")]
    # Only the plugin modules the files name are imported (medic.builtin_types).
    result = load_paths(targets, notifiers=notifiers)
    errors = result.errors
    empty = no_policies(result, targets, escape="--allow-empty if none is intended")
    if empty is not None and not allow_empty:
        errors = [empty]
    notices.extend(n for f in result.files for n in f.notices)  # found while loading
    warnings = [
        *notices,
        *(w for policy in result.policies for w in escalation_warnings(policy)),
    ]
    if output_format == "json":
        click.echo(json.dumps([e.to_dict() for e in (*errors, *warnings)], indent=2))
    else:
        render = github_annotation if output_format == "github" else str
        for problem in (*errors, *warnings):
            click.echo(render(problem))
        if warnings:
            click.echo(_plural(len(warnings), "warning"))
        if errors:
            bad = sum(1 for f in result.files if f.errors)
            click.echo(f"{_plural(len(errors), 'error')} in {_plural(bad, 'file')}")
        else:
            policies, files = len(result.policies), len(result.files)
            click.echo(f"ok: {_plural(policies, 'policy')} in {_plural(files, 'file')}")
    raise SystemExit(1 if errors else 0)
