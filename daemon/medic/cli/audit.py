"""``medic audit``: read the audit log straight from its SQLite file.

No agent is needed: every sub-command opens the database read-only (``--db``, or the
``state_dir`` of an agent config given with ``--config``) and runs the same queries
as the API (:mod:`medic.audit.query`), printed by :mod:`medic.cli.audit_format`.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from medic.audit import query as q
from medic.audit.migrations import is_current
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
from medic.cli.params import Count, When
from medic.clock import parse_iso
from medic.config import load_config
from medic.errors import ConfigError
from medic.policy.durations import format_duration

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_DB = Path(".medic/audit.db")
# The most rows one listing prints; an export may be unlimited (0) or up to MAX_EXPORT.
MAX_ROWS = 1_000_000
MAX_EXPORT = 1_000_000_000


def _source(fn: F) -> F:
    fn = click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Agent config file; its state_dir names the database.",
    )(fn)
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"The audit database [default: {DEFAULT_DB}].",
    )(fn)


def _filters(fn: F) -> F:
    options = [
        click.option("--since", type=When(), help="Events at or after: 24h (ago) or ISO time."),
        click.option("--until", type=When(), help="Events before: 1h (ago) or ISO time."),
        click.option("--policy", help="Only this policy."),
        click.option("--target", help="Only this target."),
        click.option("--incident", help="Only this incident (a unique prefix is enough)."),
        click.option("--kind", "kinds", multiple=True, help="Kind or prefix (action.); repeat."),
        click.option("--outcome", help="Only events with this outcome."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@contextmanager
def _database(db: Path | None, config: Path | None) -> Iterator[tuple[sqlite3.Connection, Path]]:
    """The database, opened read-only, or a ClickException that says what to do."""
    if db is not None and config is not None:
        raise click.ClickException("pass either --db or --config, not both")
    if config is not None:
        try:
            db = load_config(config).audit_path
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    path = db or DEFAULT_DB
    if not path.is_file():
        raise click.ClickException(
            f"no audit database at {path}: start the agent with medic run, or pass --db"
        )
    try:
        conn = q.connect_readonly(path)
        current = is_current(conn)
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot read the audit database {path}: {exc}") from exc
    if not current:
        conn.close()
        raise click.ClickException(
            f"{path} is not a Medic audit database: pass --db with the agent's audit.db"
        )
    with closing(conn):
        try:
            yield conn, path
        except sqlite3.Error as exc:  # locked for too long, corrupt page, ...
            raise click.ClickException(f"reading {path} failed: {exc}") from exc


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
    fmt: str,
    nothing: str,
    table: Callable[[list[dict[str, Any]], IO[str]], None],
) -> None:
    """``rows`` as jsonl or csv, or as a table (``nothing`` when there are none)."""
    if fmt != "table":
        write_rows(rows, fields, fmt, sys.stdout)
    elif not rows:
        click.echo(nothing)
    else:
        table(rows, sys.stdout)


# -- commands ----------------------------------------------------------------------


@click.group("audit")
def command() -> None:
    """Read the audit log: what Medic saw, decided and did (no agent needed)."""


@command.command("list")
@_source
@_filters
@click.option(
    "--limit",
    type=Count(1, MAX_ROWS),
    default=100,
    show_default=True,
    help="At most this many events.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table")
@click.option(
    "--central",
    is_flag=True,
    help="Read the fleet's central PostgreSQL (the config's fleet.central_audit.dsn, "
    "or $MEDIC_CENTRAL_AUDIT_DSN) instead of the local database.",
)
def list_cmd(
    db: Path | None, config: Path | None, limit: int, fmt: str, central: bool, **filters: Any
) -> None:
    """Events, newest first, filtered."""
    if central:
        from medic.cli.audit_central import central_list

        events = central_list(config, limit=limit, **filters)
        _print(events, EVENT_FIELDS, fmt, "no events match", event_table)
        return
    with _database(db, config) as (conn, path):
        events = q.list_events(conn, _query(conn, path, limit=limit, order="desc", **filters))
    _print(events, EVENT_FIELDS, fmt, "no events match", event_table)


@command.command("show")
@_source
@click.argument("incident")
def show_cmd(db: Path | None, config: Path | None, incident: str) -> None:
    """One incident, the whole story: its header, then every event in time order."""
    with _database(db, config) as (conn, path):
        found = q.get_incident(conn, _incident_id(conn, incident, path))
        assert found is not None
        events = q.incident_events(conn, found["id"])
    closed = when(found["closed"])
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
        ("opened", when(found["opened"])),
        ("closed", closed),
    ):
        click.echo(f"  {label:<10} {value if value is not None else '-'}")
    click.echo("")
    for line in event_lines(events):
        click.echo(line)


@command.command("export")
@_source
@_filters
@click.option(
    "--limit", type=Count(0, MAX_EXPORT), default=0, help="At most this many events (0: all)."
)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File.")
def export_cmd(
    db: Path | None,
    config: Path | None,
    limit: int,
    fmt: str,
    output: Path | None,
    **filters: Any,
) -> None:
    """Events, oldest first, with their hash columns, as jsonl or csv."""
    with _database(db, config) as (conn, path):
        rows = q.iter_events(conn, _query(conn, path, limit=limit, order="asc", **filters))
        if output is None:
            write_rows(rows, EVENT_FIELDS + HASH_FIELDS, fmt, sys.stdout)
            return
        with output.open("w", newline="", encoding="utf-8") as out:
            count = write_rows(rows, EVENT_FIELDS + HASH_FIELDS, fmt, out)
    click.echo(f"wrote {count} events to {output}", err=True)


@command.command("verify")
@_source
def verify_cmd(db: Path | None, config: Path | None) -> None:
    """Recompute the hash chain; exit 1 and name the first bad event if it is broken."""
    with _database(db, config) as (conn, path):
        ok, bad, count = q.verify_chain(conn)
    if ok:
        click.echo(f"ok: {count} events in {path}, hash chain intact")
        return
    click.echo(
        f"broken: event {bad} in {path} does not match the hash chain (edited, inserted,"
        " or an event before it deleted)"
    )
    raise click.exceptions.Exit(1)


@command.command("incidents")
@_source
@click.option("--open", "open_only", is_flag=True, help="Only incidents not yet closed.")
@click.option("--policy", help="Only this policy.")
@click.option(
    "--limit", type=Count(1, MAX_ROWS), default=100, show_default=True, help="At most this many."
)
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl", "csv"]), default="table")
def incidents_cmd(
    *,
    db: Path | None,
    config: Path | None,
    open_only: bool,
    policy: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Incidents, most recently opened first."""
    with _database(db, config) as (conn, _):
        found = q.list_incidents(conn, open_only=open_only, policy=policy, limit=limit)
    _print(found, INCIDENT_FIELDS, fmt, "no incidents match", incident_table)
