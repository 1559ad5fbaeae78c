"""Reading the audit database: the queries the store, the CLI and the API share.

Plain functions of a :class:`sqlite3.Connection`, so the CLI can run them on the file
directly (read-only, no agent needed) and the store on its own read connection. They
return dicts, one per row, with the JSON columns (``values``, ``details``) decoded.

The hash chain is defined in :mod:`medic.audit.chain` and checked by
:mod:`medic.audit.verify`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from medic.audit.events import ACTION_OUTCOMES, Kind
from medic.audit.globs import name_clause
from medic.clock import iso, parse_iso

_JSON_COLUMNS = ("values", "details")


@dataclass(frozen=True)
class AuditQuery:
    """Filters for events. ``policy`` and ``target`` are names or globs (``web-*``);
    ``kinds`` holds exact kinds or prefixes ending in ``.`` (``"action."`` matches every
    action kind); ``limit=0`` means no limit."""

    since: float | None = None
    until: float | None = None
    policy: str | None = None
    target: str | None = None
    incident: str | None = None
    kinds: tuple[str, ...] = ()
    outcome: str | None = None
    limit: int = 1000
    order: Literal["asc", "desc"] = "desc"


# Each connection's page cache, in KiB. SQLite's default (2000 KiB) fills as the log
# grows, on every connection a long-running agent holds (the writer, the store's and
# the outbox's readers, the review page's): 8 MB in all. The file is in the kernel's
# page cache anyway; the queries go through indexes (issue 14: memory).
CACHE_KIB = 512


def limit_cache(conn: sqlite3.Connection) -> None:
    """Bound ``conn``'s page cache to :data:`CACHE_KIB`."""
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")


def connect_readonly(path: Path) -> sqlite3.Connection:
    """Open the database read-only (``mode=ro``); raises sqlite3 errors as they come."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    limit_cache(conn)
    return conn


def decode_row(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` (a row as a dict) with its JSON columns decoded, in place."""
    for column in _JSON_COLUMNS:
        if isinstance(item.get(column), str):
            item[column] = json.loads(item[column])
    return item


def _decode(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    for row in cursor:
        yield decode_row(dict(zip(names, row, strict=True)))


def kind_clause(kinds: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL matching any of ``kinds``. A kind ending in ``.`` (or without a dot at all,
    like ``action``) is a prefix: it becomes the known kinds it covers, so the
    ``(kind, time)`` index serves it; a prefix no known kind has stays a text range."""
    exact: list[str] = []
    ranges: list[str] = []
    for kind in kinds:
        if "." in kind and not kind.endswith("."):
            exact.append(kind)
            continue
        prefix = kind if kind.endswith(".") else kind + "."
        known = [k.value for k in Kind if k.value.startswith(prefix)]
        if known:
            exact.extend(known)
        else:
            ranges.append(prefix)
    parts: list[str] = []
    params: list[Any] = []
    if exact:
        unique = list(dict.fromkeys(exact))
        parts.append(f"kind IN ({', '.join('?' * len(unique))})")
        params.extend(unique)
    for prefix in ranges:
        parts.append("(kind >= ? AND kind < ?)")
        params.extend([prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)])
    return "(" + " OR ".join(parts) + ")", params


def event_filter(q: AuditQuery) -> tuple[str, list[Any]]:
    """``q``'s filters as one condition (``?`` placeholders; empty: every event)."""
    clauses: list[str] = []
    params: list[Any] = []
    if q.since is not None:
        clauses.append("time >= ?")
        params.append(iso(q.since))
    if q.until is not None:
        clauses.append("time < ?")
        params.append(iso(q.until))
    for column in ("policy", "target"):
        given = getattr(q, column)
        if given is not None:
            sql, value = name_clause(column, given)
            clauses.append(sql)
            params.append(value)
    for column in ("incident", "outcome"):
        value = getattr(q, column)
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if q.kinds:
        sql, kind_params = kind_clause(q.kinds)
        clauses.append(sql)
        params.extend(kind_params)
    return " AND ".join(clauses), params


def where_clause(q: AuditQuery) -> tuple[str, list[Any]]:
    """The ``WHERE`` text (``?`` placeholders) and parameters for ``q``'s filters."""
    condition, params = event_filter(q)
    return (" WHERE " + condition) if condition else "", params


def event_order(q: AuditQuery) -> str:
    """The ``ORDER BY`` terms of ``q``: time, then id (the order they were written)."""
    direction = "ASC" if q.order == "asc" else "DESC"
    return f"time {direction}, id {direction}"


def iter_events(conn: sqlite3.Connection, q: AuditQuery) -> Iterator[dict[str, Any]]:
    """Events matching ``q``, streamed (for exports of any size)."""
    where, params = where_clause(q)
    sql = f"SELECT * FROM events{where} ORDER BY {event_order(q)}"  # noqa: S608 -- only fixed column names and ? placeholders are spliced in
    if q.limit > 0:
        sql += " LIMIT ?"
        params.append(q.limit)
    return _decode(conn.execute(sql, params))


def list_events(conn: sqlite3.Connection, q: AuditQuery) -> list[dict[str, Any]]:
    """Events matching ``q``, newest first unless ``q.order`` is ``asc``."""
    return list(iter_events(conn, q))


def count_by_kind(
    conn: sqlite3.Connection, since: float, until: float | None = None
) -> dict[str, int]:
    """How many events of each kind were written in ``[since, until)``."""
    sql = "SELECT kind, count(*) FROM events WHERE time >= ?"
    params: list[Any] = [iso(since)]
    if until is not None:
        sql += " AND time < ?"
        params.append(iso(until))
    # "+kind": group on the time range, not by scanning the whole (kind, time) index.
    rows = conn.execute(sql + " GROUP BY +kind ORDER BY 1", params)
    return {kind: count for kind, count in rows}


def incident_events(conn: sqlite3.Connection, incident: str) -> list[dict[str, Any]]:
    """The whole story of one incident, in time order."""
    cursor = conn.execute("SELECT * FROM events WHERE incident = ? ORDER BY time, id", [incident])
    return list(_decode(cursor))


def incident_row(item: dict[str, Any]) -> dict[str, Any]:
    """An incident's row as readers get it: ``escalated`` a bool (stored as 0/1)."""
    item["escalated"] = bool(item["escalated"])
    return item


def get_incident(conn: sqlite3.Connection, incident: str) -> dict[str, Any] | None:
    """One incident's row, or None."""
    rows = list(_decode(conn.execute("SELECT * FROM incidents WHERE id = ?", [incident])))
    return incident_row(rows[0]) if rows else None


def match_incidents(conn: sqlite3.Connection, prefix: str, limit: int = 5) -> list[str]:
    """Incident ids equal to ``prefix`` or starting with it (for short ids on the CLI)."""
    if conn.execute("SELECT 1 FROM incidents WHERE id = ?", [prefix]).fetchone():
        return [prefix]
    rows = conn.execute(
        "SELECT id FROM incidents WHERE substr(id, 1, ?) = ? ORDER BY opened DESC LIMIT ?",
        [len(prefix), prefix, limit],
    )
    return [row[0] for row in rows]


def list_incidents(
    conn: sqlite3.Connection,
    *,
    open_only: bool = False,
    policy: str | None = None,
    target: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Incidents, most recently opened first; ``escalated`` is a bool. ``policy`` and
    ``target`` are names or globs."""
    condition, params = incident_filter(open_only=open_only, policy=policy, target=target)
    where = (" WHERE " + condition) if condition else ""
    sql = f"SELECT * FROM incidents{where} ORDER BY opened DESC, id"  # noqa: S608 -- fixed clauses and ? placeholders only
    if limit > 0:
        sql += " LIMIT ?"
        params.append(limit)
    return [incident_row(item) for item in _decode(conn.execute(sql, params))]


def incident_filter(
    *, open_only: bool = False, policy: str | None = None, target: str | None = None
) -> tuple[str, list[Any]]:
    """The incident listing's filters as one condition (empty: every incident)."""
    clauses: list[str] = []
    params: list[Any] = []
    if open_only:
        clauses.append("status = 'open'")
    for column, given in (("policy", policy), ("target", target)):
        if given is not None:
            sql, value = name_clause(column, given)
            clauses.append(sql)
            params.append(value)
    return " AND ".join(clauses), params


def open_incident_ids(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    """(policy, target) -> id of its open incident (the latest, should there be two)."""
    rows = conn.execute(
        "SELECT policy, target, id FROM incidents WHERE status = 'open' ORDER BY opened, id"
    )
    return {(policy, target): incident for policy, target, incident in rows}


def escalated_open_ids(conn: sqlite3.Connection) -> set[str]:
    """Ids of open incidents Medic already escalated: after a restart it must not escalate
    them again, and owes their channels a resolve. That includes an escalation that named
    no channel (nobody was told, but it was decided), not one held back by a silence or
    dry-run (those page when the silence ends)."""
    rows = conn.execute(
        "SELECT id FROM incidents WHERE status = 'open' AND (escalated = 1 OR id IN ("
        " SELECT incident FROM events WHERE kind = 'incident.escalated'"
        " AND outcome = 'no_channel'))"
    )
    return {incident for (incident,) in rows}


@dataclass(frozen=True)
class ActionRecord:
    """One action the engine started (or would have, in dry-run): what limits count.

    ``action_type`` is ``details.type`` when the engine recorded it there, else the
    event's ``action`` column; ``step`` is ``details.step`` (0, the first step of a
    remediation, when absent), so limits can count one attempt per remediation."""

    policy: str
    target: str
    time: float
    dry: bool
    action_type: str | None
    step: int = 0


def action_records(conn: sqlite3.Connection, since: float) -> list[ActionRecord]:
    """``action.started`` and ``action.would_run`` events since ``since``, oldest first."""
    cursor = conn.execute(
        "SELECT * FROM events WHERE kind IN (?, ?) AND time >= ? ORDER BY time, id",
        [Kind.ACTION_STARTED.value, Kind.ACTION_WOULD_RUN.value, iso(since)],
    )
    records = []
    for row in _decode(cursor):
        details = row["details"] if isinstance(row["details"], dict) else {}
        kind_of, step = details.get("type"), details.get("step")
        records.append(
            ActionRecord(
                policy=row["policy"] or "",
                target=row["target"] or "",
                time=parse_iso(row["time"]),
                dry=row["kind"] == Kind.ACTION_WOULD_RUN.value,
                action_type=kind_of if isinstance(kind_of, str) else row["action"],
                step=step if isinstance(step, int) and not isinstance(step, bool) else 0,
            )
        )
    return records


def unfinished_actions(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """``action.started`` events with no outcome event for the same ``action`` after them."""
    outcomes = json.dumps(sorted(kind.value for kind in ACTION_OUTCOMES))
    sql = (
        "SELECT * FROM events AS s WHERE s.kind = ? AND NOT EXISTS ("
        " SELECT 1 FROM events AS o WHERE o.action IS s.action AND o.id > s.id"
        " AND o.kind IN (SELECT value FROM json_each(?))) ORDER BY s.id"
    )
    return list(_decode(conn.execute(sql, [Kind.ACTION_STARTED.value, outcomes])))
