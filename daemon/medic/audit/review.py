"""Reads for reviewing incidents: the per-policy overview and the paged incident list.

Plain functions of a read-only :class:`sqlite3.Connection` over the ``incidents``,
``events`` and ``approvals`` tables, like :mod:`medic.audit.query`; nothing here
writes. The incident list pages by keyset (a cursor naming the last row's ``opened``
and ``id``), so any page of any number of incidents costs the same.
One incident's page is :mod:`medic.audit.review_incident`.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from medic.audit.events import Kind
from medic.clock import iso, parse_iso

# What the status filter accepts, and the SQL each adds (``?`` is "now" for awaiting).
STATUS_SQL: dict[str, str] = {
    "open": "status = 'open'",
    "healed": "status = 'healed'",
    "cleared": "status = 'cleared'",
    "escalated": "escalated = 1",
    "awaiting": "id IN (SELECT incident FROM approvals WHERE decision IS NULL AND expires > ?)",
    "suppressed": "EXISTS (SELECT 1 FROM events AS e WHERE e.incident = incidents.id"
    " AND e.kind = 'action.suppressed')",
    "dry_run": "EXISTS (SELECT 1 FROM events AS e WHERE e.incident = incidents.id"
    " AND (e.kind = 'action.would_run' OR e.outcome = 'dry_run'))",
}
STATUSES = tuple(STATUS_SQL)
# Event kinds that tell the list and the overview what happened in an incident.
_FLAG_KINDS = (
    Kind.FIRED.value,
    Kind.ACTION_STARTED.value,
    Kind.ACTION_WOULD_RUN.value,
    Kind.SUPPRESSED.value,
    Kind.ESCALATED.value,
)


class BadCursor(ValueError):
    """A paging cursor that this module did not hand out."""


def encode_cursor(opened: str, incident: str) -> str:
    """The opaque cursor for the row ``(opened, incident)``."""
    raw = f"{opened}|{incident}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """``(opened, id)`` from a cursor; BadCursor when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        opened, sep, incident = raw.partition("|")
        parse_iso(opened)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor(cursor) from exc
    if not sep or not incident:
        raise BadCursor(cursor)
    return opened, incident


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to list: exact policy and target, a status, opened in [since, until)."""

    policy: str | None = None
    target: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None

    def where(self, now: float) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("policy", "target"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.status is not None:
            clauses.append(STATUS_SQL[self.status])
            if self.status == "awaiting":
                params.append(iso(now))
        if self.since is not None:
            clauses.append("opened >= ?")
            params.append(iso(self.since))
        if self.until is not None:
            clauses.append("opened < ?")
            params.append(iso(self.until))
        return clauses, params


@dataclass(frozen=True)
class Page:
    """One page of incidents, newest first, with cursors to the pages around it."""

    incidents: list[dict[str, Any]]
    total: int
    next: str | None  # older incidents
    prev: str | None  # newer incidents


def _placeholders(items: Sequence[Any]) -> str:
    return ", ".join("?" * len(items))


def incident_flags(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """For each incident: fired, attempts, dry_run, suppressed, escalated (told someone)."""
    flags = {
        i: {"fired": False, "attempts": 0, "dry_run": False, "suppressed": 0, "told": False}
        for i in ids
    }
    for chunk in (ids[n : n + 500] for n in range(0, len(ids), 500)):
        marks = _placeholders(chunk)
        sql = (
            "SELECT incident, kind, outcome, count(*),"  # noqa: S608 -- placeholders only
            " count(DISTINCT json_extract(details, '$.attempt')) FROM events"
            f" WHERE incident IN ({marks}) AND +kind IN ({_placeholders(_FLAG_KINDS)})"
            " GROUP BY incident, kind, outcome"
        )
        for incident, kind, outcome, count, attempts in conn.execute(sql, [*chunk, *_FLAG_KINDS]):
            f = flags[incident]
            if kind == Kind.FIRED:
                f["fired"] = True
            elif kind in (Kind.ACTION_STARTED, Kind.ACTION_WOULD_RUN):
                f["attempts"] = max(f["attempts"], attempts or count)
                f["dry_run"] = f["dry_run"] or kind == Kind.ACTION_WOULD_RUN
            elif kind == Kind.SUPPRESSED:
                f["suppressed"] += count
                f["dry_run"] = f["dry_run"] or outcome == "dry_run"
            elif kind == Kind.ESCALATED:
                f["told"] = f["told"] or outcome == "escalated"
                f["dry_run"] = f["dry_run"] or outcome == "dry_run"
    return flags


def awaiting_approval(conn: sqlite3.Connection, ids: Sequence[str], now: float) -> set[str]:
    """Those of ``ids`` with an approval request nobody has answered and that has not expired."""
    if not ids:
        return set()
    sql = (
        f"SELECT incident FROM approvals WHERE incident IN ({_placeholders(ids)})"  # noqa: S608 -- placeholders only
        " AND decision IS NULL AND expires > ?"
    )
    return {row[0] for row in conn.execute(sql, [*ids, iso(now)])}


def _row(item: dict[str, Any], flags: dict[str, Any], awaiting: bool, now: float) -> dict[str, Any]:
    end = parse_iso(item["closed"]) if item["closed"] else now
    return {
        **item,
        "escalated": bool(item["escalated"]),
        "duration": round(max(0.0, end - parse_iso(item["opened"])), 3),
        "attempts": flags["attempts"],
        "dry_run": flags["dry_run"],
        "suppressed": flags["suppressed"],
        "awaiting_approval": awaiting,
    }


def list_incidents(
    conn: sqlite3.Connection,
    filt: IncidentFilter,
    *,
    limit: int,
    now: float,
    cursor: tuple[Literal["after", "before"], str] | None = None,
) -> Page:
    """A page of at most ``limit`` incidents matching ``filt``, newest opened first.

    ``("after", c)`` is the page of incidents older than cursor ``c``; ``("before", c)``
    the page newer than it."""
    clauses, params = filt.where(now)
    count_where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    total = conn.execute(f"SELECT count(*) FROM incidents{count_where}", params).fetchone()[0]  # noqa: S608 -- fixed clauses
    direction = "DESC"
    page_clauses, page_params = list(clauses), list(params)
    if cursor is not None:
        opened, incident = decode_cursor(cursor[1])
        older = cursor[0] == "after"
        page_clauses.append("(opened, id) < (?, ?)" if older else "(opened, id) > (?, ?)")
        page_params.extend([opened, incident])
        direction = "DESC" if older else "ASC"
    where = (" WHERE " + " AND ".join(page_clauses)) if page_clauses else ""
    sql = (
        "SELECT id, policy, target, host, opened, closed, status, escalated, last_event"  # noqa: S608 -- fixed clauses
        f" FROM incidents{where} ORDER BY opened {direction}, id {direction} LIMIT ?"
    )
    cur = conn.execute(sql, [*page_params, limit + 1])
    names = [c[0] for c in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur]
    more = len(rows) > limit
    rows = rows[:limit]
    if direction == "ASC":
        rows.reverse()
    ids = [r["id"] for r in rows]
    flags = incident_flags(conn, ids)
    waiting = awaiting_approval(conn, ids, now)
    out = [_row(r, flags[r["id"]], r["id"] in waiting, now) for r in rows]
    has_older = more if direction == "DESC" else cursor is not None
    has_newer = (cursor is not None) if direction == "DESC" else more
    first, last = (out[0], out[-1]) if out else (None, None)
    return Page(
        incidents=out,
        total=total,
        next=encode_cursor(last["opened"], last["id"]) if last and has_older else None,
        prev=encode_cursor(first["opened"], first["id"]) if first and has_newer else None,
    )


def _median(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(statistics.median(items), 3) if items else None


def overview(conn: sqlite3.Connection, since: float, until: float) -> list[dict[str, Any]]:
    """Per policy, over incidents opened in ``[since, until)``: how many opened, fired,
    healed, escalated, were suppressed or dry-run, are open; the heal rate (healed of
    fired) and the median time from opening to healed."""
    cur = conn.execute(
        "SELECT id, policy, status, escalated, opened, closed FROM incidents"
        " WHERE opened >= ? AND opened < ?",
        [iso(since), iso(until)],
    )
    rows = cur.fetchall()
    flags = incident_flags(conn, [r[0] for r in rows])
    by_policy: dict[str, dict[str, Any]] = {}
    heal_times: dict[str, list[float]] = {}
    for incident, policy, status, escalated, opened, closed in rows:
        name = policy or "(none)"
        s = by_policy.setdefault(
            name,
            dict.fromkeys(
                ("opened", "fired", "healed", "cleared", "escalated", "suppressed", "dry_run"),
                0,
            )
            | {"policy": name, "open": 0},
        )
        f = flags[incident]
        s["opened"] += 1
        s["fired"] += f["fired"]
        s["healed"] += status == "healed"
        s["cleared"] += status == "cleared"
        s["open"] += status == "open"
        s["escalated"] += bool(escalated) or f["told"]
        s["suppressed"] += f["suppressed"] > 0
        s["dry_run"] += f["dry_run"]
        if status == "healed" and closed:
            heal_times.setdefault(name, []).append(parse_iso(closed) - parse_iso(opened))
    out = []
    for name in sorted(by_policy):
        s = by_policy[name]
        s["heal_rate"] = round(min(1.0, s["healed"] / s["fired"]), 4) if s["fired"] else None
        s["time_to_heal_median"] = _median(heal_times.get(name, ()))
        out.append(s)
    return out
