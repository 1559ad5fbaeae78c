"""``medic audit``: read the audit log straight from its SQLite file.

No agent is needed: every sub-command reads one source (:mod:`medic.cli.audit_source`):
the database opened read-only (``--db``, or the ``state_dir`` of an agent config given
with ``--config``), or with ``--central`` the fleet's central PostgreSQL. Both filter
as the API does (:mod:`medic.audit.query`); :mod:`medic.cli.audit_format` prints.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from medic import humanize
from medic.audit import query as q
from medic.cli.audit_format import (
    EVENT_FIELDS,
    HASH_FIELDS,
    INCIDENT_FIELDS,
    event_lines,
    event_table,
    incident_table,
    when,
    write_rows,
)
from medic.cli.audit_source import SourceSpec, open_source, source_options
from medic.cli.audit_verify import checkpoint_cmd, verify_cmd
from medic.cli.output import local_option, output_option
from medic.cli.params import Count, When
from medic.clock import parse_iso

F = TypeVar("F", bound=Callable[..., Any])
# The most rows one listing prints; an export may be unlimited (0) or up to MAX_EXPORT.
MAX_ROWS = 1_000_000
MAX_EXPORT = 1_000_000_000
LISTING = ["table", "json", "jsonl", "csv"]


def _filters(fn: F) -> F:
    options = [
        click.option("--since", type=When(), help="Events at or after: 24h (ago), ISO, today."),
        click.option("--until", type=When(), help="Events before: 1h (ago), ISO, yesterday."),
        click.option("--policy", metavar="GLOB", help="Only this policy (or glob: 'web-*')."),
        click.option("--target", metavar="GLOB", help="Only this target (or glob: 'db?')."),
        click.option("--incident", help="Only this incident (a unique prefix is enough)."),
        click.option("--kind", "kinds", multiple=True, help="Kind or prefix (action.); repeat."),
        click.option("--outcome", help="Only events with this outcome."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _query(*, limit: int, order: str, **f: Any) -> q.AuditQuery:
    """The filters as given; the source resolves a short ``--incident`` id."""
    return q.AuditQuery(
        since=f["since"],
        until=f["until"],
        policy=f["policy"],
        target=f["target"],
        incident=f["incident"] or None,
        kinds=tuple(f["kinds"]),
        outcome=f["outcome"],
        limit=limit,
        order="asc" if order == "asc" else "desc",
    )


def _print(
    rows: list[dict[str, Any]],
    fields: list[str],
    output: str,
    nothing: str,
    table: Callable[[list[dict[str, Any]]], str],
) -> None:
    """``rows`` as json, jsonl or csv, or as a table (``nothing`` when there are none)."""
    if output != "table":
        write_rows(rows, fields, output, sys.stdout)
    elif not rows:
        click.echo(nothing)
    else:
        click.echo(table(rows))


# -- commands ----------------------------------------------------------------------


@click.group("audit")
def command() -> None:
    """Read the audit log: what Medic saw, decided and did (no agent needed)."""


@command.command("list")
@source_options(with_central=True)
@_filters
@click.option(
    "--limit",
    type=Count(1, MAX_ROWS),
    default=100,
    show_default=True,
    help="At most this many events.",
)
@output_option(LISTING)
@local_option
def list_cmd(source: SourceSpec, limit: int, output: str, local: bool, **filters: Any) -> None:
    """Events, newest first, filtered."""
    with open_source(source) as reader:
        events = list(reader.events(_query(limit=limit, order="desc", **filters)))
    _print(events, EVENT_FIELDS, output, "no events match", lambda e: event_table(e, local))


@command.command("show")
@source_options(with_central=True)
@click.argument("incident")
@output_option(["table", "json"])
@local_option
def show_cmd(source: SourceSpec, incident: str, output: str, local: bool) -> None:
    """One incident, the whole story: its header, then every event in time order."""
    with open_source(source) as reader:
        found, events = reader.incident(incident)
    if output == "json":
        click.echo(json.dumps({"incident": found, "events": events}, indent=2))
        return
    closed = when(found["closed"], local)
    if found["closed"]:
        took = parse_iso(found["closed"]) - parse_iso(found["opened"])
        closed += f" ({humanize.seconds(took)} after it opened)"
    click.echo(f"incident {found['id']}")
    for label, value in (
        ("policy", found["policy"]),
        ("target", found["target"]),
        ("host", found["host"]),
        ("status", found["status"]),
        ("escalated", "yes" if found["escalated"] else "no"),
        ("opened", when(found["opened"], local)),
        ("closed", closed),
    ):
        click.echo(f"  {label:<10} {value if value is not None else '-'}")
    click.echo("")
    for line in event_lines(events, local):
        click.echo(line)


@command.command("export")
@source_options(with_central=True)
@_filters
@click.option(
    "--limit", type=Count(0, MAX_EXPORT), default=0, help="At most this many events (0: all)."
)
@output_option(["jsonl", "csv"], default="jsonl")
@click.option(
    "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file."
)
def export_cmd(
    source: SourceSpec, limit: int, output: str, out_file: Path | None, **filters: Any
) -> None:
    """Events, oldest first, with their hash columns, as jsonl or csv (-o)."""
    with open_source(source) as reader:
        rows = reader.events(_query(limit=limit, order="asc", **filters))
        if out_file is None:
            write_rows(rows, EVENT_FIELDS + HASH_FIELDS, output, sys.stdout)
            return
        with out_file.open("w", newline="", encoding="utf-8") as out:
            count = write_rows(rows, EVENT_FIELDS + HASH_FIELDS, output, out)
    click.echo(f"wrote {count} events to {out_file}", err=True)


@command.command("incidents")
@source_options(with_central=True)
@click.option("--open", "open_only", is_flag=True, help="Only incidents not yet closed.")
@click.option("--policy", metavar="GLOB", help="Only this policy (or glob: 'web-*').")
@click.option("--target", metavar="GLOB", help="Only this target (or glob: 'db?').")
@click.option(
    "--limit", type=Count(1, MAX_ROWS), default=100, show_default=True, help="At most this many."
)
@output_option(LISTING)
@local_option
def incidents_cmd(
    *,
    source: SourceSpec,
    open_only: bool,
    policy: str | None,
    target: str | None,
    limit: int,
    output: str,
    local: bool,
) -> None:
    """Incidents, most recently opened first."""
    with open_source(source) as reader:
        found = reader.incidents(open_only=open_only, policy=policy, target=target, limit=limit)
    _print(found, INCIDENT_FIELDS, output, "no incidents match", lambda i: incident_table(i, local))


command.add_command(verify_cmd)
command.add_command(checkpoint_cmd)
