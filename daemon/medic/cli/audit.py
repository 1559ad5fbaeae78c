"""``medic audit``: read the audit log straight from its SQLite file.

No agent is needed: every sub-command opens the database read-only (``--db``, or the
``state_dir`` of an agent config given with ``--config``) and runs the same queries
as the API (:mod:`medic.audit.query`), printed by :mod:`medic.cli.audit_format`.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from medic.audit import query as q
from medic.cli.audit_central import (
    central_incident_list,
    central_list,
    central_option,
    central_or_local,
    central_show,
)
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
from medic.cli.audit_source import open_database, source_options
from medic.cli.audit_verify import checkpoint_cmd, verify_cmd
from medic.cli.output import local_option, output_option
from medic.cli.params import Count, When
from medic.clock import parse_iso
from medic.durations import format_duration

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


def _incident_id(conn: sqlite3.Connection, text: str, path: Path) -> str:
    matches = q.match_incidents(conn, text)
    if not matches:
        raise click.ClickException(f"no incident {text!r} in {path}")
    if len(matches) > 1:
        raise click.ClickException(
            f"incident {text!r} is ambiguous ({', '.join(matches)}): give more of the id"
        )
    return matches[0]


def _query(
    conn: sqlite3.Connection, path: Path, *, limit: int, order: str, **f: Any
) -> q.AuditQuery:
    incident = _incident_id(conn, f["incident"], path) if f["incident"] else None
    return q.AuditQuery(
        since=f["since"],
        until=f["until"],
        policy=f["policy"],
        target=f["target"],
        incident=incident,
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
@source_options
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
@central_option
def list_cmd(
    db: Path | None,
    config: Path | None,
    limit: int,
    output: str,
    local: bool,
    central: bool,
    **filters: Any,
) -> None:
    """Events, newest first, filtered."""
    if central:
        events = central_list(config, limit=limit, **filters)
        _print(events, EVENT_FIELDS, output, "no events match", lambda e: event_table(e, local))
        return
    with open_database(db, config) as (conn, path):
        events = q.list_events(conn, _query(conn, path, limit=limit, order="desc", **filters))
    _print(events, EVENT_FIELDS, output, "no events match", lambda e: event_table(e, local))


@command.command("show")
@source_options
@click.argument("incident")
@output_option(["table", "json"])
@local_option
@central_option
def show_cmd(
    db: Path | None, config: Path | None, incident: str, output: str, local: bool, central: bool
) -> None:
    """One incident, the whole story: its header, then every event in time order."""
    if central:
        found, events = central_show(config, incident)
    else:
        with open_database(db, config) as (conn, path):
            local_found = q.get_incident(conn, _incident_id(conn, incident, path))
            assert local_found is not None
            found, events = local_found, q.incident_events(conn, local_found["id"])
    if output == "json":
        click.echo(json.dumps({"incident": found, "events": events}, indent=2))
        return
    closed = when(found["closed"], local)
    if found["closed"]:
        took = parse_iso(found["closed"]) - parse_iso(found["opened"])
        closed += f" ({format_duration(took)} after it opened)"
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
@source_options
@_filters
@click.option(
    "--limit", type=Count(0, MAX_EXPORT), default=0, help="At most this many events (0: all)."
)
@output_option(["jsonl", "csv"], default="jsonl")
@click.option(
    "--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file."
)
@central_option
def export_cmd(
    db: Path | None,
    config: Path | None,
    limit: int,
    output: str,
    out_file: Path | None,
    central: bool,
    **filters: Any,
) -> None:
    """Events, oldest first, with their hash columns, as jsonl or csv (-o)."""
    with central_or_local(central, db, config) as (conn, path):
        if conn is None or path is None:
            rows: Iterable[dict[str, Any]] = central_list(
                config, limit=limit, order="asc", **filters
            )
        else:
            rows = q.iter_events(conn, _query(conn, path, limit=limit, order="asc", **filters))
        if out_file is None:
            write_rows(rows, EVENT_FIELDS + HASH_FIELDS, output, sys.stdout)
            return
        with out_file.open("w", newline="", encoding="utf-8") as out:
            count = write_rows(rows, EVENT_FIELDS + HASH_FIELDS, output, out)
    click.echo(f"wrote {count} events to {out_file}", err=True)


@command.command("incidents")
@source_options
@click.option("--open", "open_only", is_flag=True, help="Only incidents not yet closed.")
@click.option("--policy", metavar="GLOB", help="Only this policy (or glob: 'web-*').")
@click.option("--target", metavar="GLOB", help="Only this target (or glob: 'db?').")
@click.option(
    "--limit", type=Count(1, MAX_ROWS), default=100, show_default=True, help="At most this many."
)
@output_option(LISTING)
@local_option
@central_option
def incidents_cmd(
    *,
    db: Path | None,
    config: Path | None,
    open_only: bool,
    policy: str | None,
    target: str | None,
    limit: int,
    output: str,
    local: bool,
    central: bool,
) -> None:
    """Incidents, most recently opened first."""
    if central:
        found = central_incident_list(
            config, open_only=open_only, policy=policy, target=target, limit=limit
        )
    else:
        with open_database(db, config) as (conn, _):
            found = q.list_incidents(
                conn, open_only=open_only, policy=policy, target=target, limit=limit
            )
    _print(found, INCIDENT_FIELDS, output, "no incidents match", lambda i: incident_table(i, local))


command.add_command(verify_cmd)
command.add_command(checkpoint_cmd)
