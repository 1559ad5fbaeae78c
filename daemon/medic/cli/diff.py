"""``medic diff OLD NEW``: the semantic changes between two policy sets.

OLD and NEW are policy files or directories, or ``git:REV:PATH`` (the set as it was at
a git revision; handy in CI: ``medic diff git:origin/main:policies policies``). Both
are loaded with the real loader and compared as policies (:mod:`medic.policy.diff`),
so only changes that alter behaviour show. Exit status, like ``diff``: 0 when the two
are the same, 1 when they differ, 2 when either side does not load.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import click

from medic.cli.diff_source import load_side
from medic.policy.diff import Change, diff_policies


def _text(changes: Sequence[Change]) -> str:
    return "\n".join(map(str, changes)) if changes else "no changes"


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    text = value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if "`" not in text else text


def _markdown(changes: Sequence[Change]) -> str:
    """A heading and a field table per policy, for a pull-request comment."""
    if not changes:
        return "**medic diff**: no policy changes."
    counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in _LABEL}
    policies = {c.policy: None for c in changes if c.kind == "changed"}
    summary = ", ".join(
        f"{len(policies) if kind == 'changed' else n} {label}"
        for kind, label in _LABEL.items()
        if (n := counts[kind])
    )
    lines = [f"**medic diff**: {summary}"]
    for name in dict.fromkeys(c.policy for c in changes):
        mine = [c for c in changes if c.policy == name]
        lines += ["", f"### `{name}` ({_LABEL[mine[0].kind]})", ""]
        lines += ["| field | old | new |", "| --- | --- | --- |"]
        for change in mine:
            field = change.field or "policy"
            lines.append(f"| {field} | {_cell(change.old)} | {_cell(change.new)} |")
    return "\n".join(lines)


_LABEL = {"removed": "removed", "changed": "changed", "added": "added"}


def _json(changes: Sequence[Change]) -> str:
    return json.dumps(
        {"identical": not changes, "changes": [c.to_dict() for c in changes]}, indent=2
    )


FORMATS = {"text": _text, "markdown": _markdown, "json": _json}


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(sorted(FORMATS)),
    default="text",
    show_default=True,
    help="text: one line per change; markdown: a table per policy (for a pull-request "
    "comment); json: a list of change objects.",
)
def command(old: str, new: str, output: str) -> None:
    """Show what changed between two policy sets: OLD and NEW are files, directories
    or git:REV:PATH (a set as it was at a git revision).

    Exit status 0 when they are the same, 1 when they differ, 2 when either side has
    errors (printed as file:line: message).
    """
    sides = [load_side(spec) for spec in (old, new)]
    errors = [error for _, side_errors in sides for error in side_errors]
    if errors:
        for error in errors:
            click.echo(str(error), err=True)
        click.echo(f"medic diff: {len(errors)} error(s); nothing compared", err=True)
        raise SystemExit(2)
    changes = diff_policies(sides[0][0], sides[1][0])
    click.echo(FORMATS[output](changes))
    raise SystemExit(1 if changes else 0)
