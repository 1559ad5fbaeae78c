"""Reads for reviewing incidents: the per-policy overview and the paged incident list.

Plain functions of a read-only :class:`sqlite3.Connection` over the ``incidents``,
``events`` and ``approvals`` tables, like :mod:`medic.audit.query`, or of the fleet's
central PostgreSQL through the same queries (:mod:`medic.audit.review_db`: there rows
carry their host, and there is no approvals table); nothing here writes. The incident
list pages by keyset (a cursor naming the last row's ``opened`` and ``id``), so any
page of any number of incidents costs the same.
One incident's page is :mod:`medic.audit.review_incident`.
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from medic.audit.events import Kind
from medic.audit.review_db import ReviewDb, as_db
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
    """Which incidents to list: exact policy, target and host, a status, opened in
    [since, until)."""

    policy: str | None = None
    target: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None
    host: str | None = None

    def where(self, now: float) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("policy", "target", "host"):
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


def incident_flags(
    conn: sqlite3.Connection | ReviewDb, ids: Sequence[str], host: str | None = None
) -> dict[str, dict[str, Any]]:
    """For each incident (of ``host`` when given: central ids are unique per host):
    fired, attempts, dry_run, suppressed, escalated (told someone)."""
    db = as_db(conn)
    on_host = " AND host = ?" if host is not None else ""
    flags = {
        i: {"fired": False, "attempts": 0, "dry_run": False, "suppressed": 0, "told": False}
        for i in ids
    }
    for chunk in (ids[n : n + 500] for n in range(0, len(ids), 500)):
        marks = _placeholders(chunk)
        sql = (
            "SELECT incident, kind, outcome, count(*),"  # noqa: S608 -- placeholders only
            f" count(DISTINCT {db.json_field('details', 'attempt')}) FROM events"
            f" WHERE incident IN ({marks}) AND {db.unindexed('kind')} IN"
            f" ({_placeholders(_FLAG_KINDS)}){on_host} GROUP BY incident, kind, outcome"
        )
        params = [*chunk, *_FLAG_KINDS, *([host] if host is not None else [])]
        for incident, kind, outcome, count, attempts in db.rows(sql, params):
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


def host_flags(db: ReviewDb, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """:func:`incident_flags` by (host, id): one query locally, one per host centrally."""
    if not db.central:
        flags = incident_flags(db, [i for _, i in keys])
        return {(h, i): flags[i] for h, i in keys}
    out: dict[tuple[str, str], Any] = {}
    for host in sorted({h for h, _ in keys}):
        ids = [i for h, i in keys if h == host]
        out.update({(host, i): f for i, f in incident_flags(db, ids, host).items()})
    return out


def awaiting_approval(
    conn: sqlite3.Connection | ReviewDb, ids: Sequence[str], now: float
) -> set[str]:
    """Those of ``ids`` with an approval request nobody has answered and that has not
    expired (none centrally: approvals live with the agent that asked)."""
    db = as_db(conn)
    if not ids or db.central:
        return set()
    sql = (
        f"SELECT incident FROM approvals WHERE incident IN ({_placeholders(ids)})"  # noqa: S608 -- placeholders only
        " AND decision IS NULL AND expires > ?"
    )
    return {row[0] for row in db.rows(sql, [*ids, iso(now)])}


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


_LIST_COLUMNS = (
    "id", "policy", "target", "host", "opened", "closed", "status", "escalated", "last_event",
)  # fmt: skip


def list_incidents(
    conn: sqlite3.Connection | ReviewDb,
    filt: IncidentFilter,
    *,
    limit: int,
    now: float,
    cursor: tuple[Literal["after", "before"], str] | None = None,
) -> Page:
    """A page of at most ``limit`` incidents matching ``filt``, newest opened first.

    ``("after", c)`` is the page of incidents older than cursor ``c``; ``("before", c)``
    the page newer than it."""
    db = as_db(conn)
    clauses, params = filt.where(now)
    count_where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    total = db.rows(f"SELECT count(*) FROM incidents{count_where}", params)[0][0]  # noqa: S608 -- fixed clauses
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
        f"SELECT {', '.join(_LIST_COLUMNS)}"  # noqa: S608 -- fixed clauses
        f" FROM incidents{where} ORDER BY opened {direction}, id {direction} LIMIT ?"
    )
    found = db.rows(sql, [*page_params, limit + 1])
    rows = [dict(zip(_LIST_COLUMNS, r, strict=True)) for r in found]
    more = len(rows) > limit
    rows = rows[:limit]
    if direction == "ASC":
        rows.reverse()
    flags = host_flags(db, [(r["host"], r["id"]) for r in rows])
    waiting = awaiting_approval(db, [r["id"] for r in rows], now)
    out = [_row(r, flags[r["host"], r["id"]], r["id"] in waiting, now) for r in rows]
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
    if not items:
        return None
    import statistics  # with fractions and decimal: 0.6 MB an agent needs only here

    return round(statistics.median(items), 3)


def overview(
    conn: sqlite3.Connection | ReviewDb, since: float, until: float, host: str | None = None
) -> list[dict[str, Any]]:
    """Per policy, over incidents opened in ``[since, until)``: how many opened, fired,
    healed, escalated, were suppressed or dry-run, are open; the heal rate (healed of
    fired) and the median time from opening to healed; of ``host`` alone when given."""
    db = as_db(conn)
    on_host = " AND host = ?" if host is not None else ""
    rows = db.rows(
        "SELECT host, id, policy, status, escalated, opened, closed FROM incidents"  # noqa: S608 -- fixed clauses
        f" WHERE opened >= ? AND opened < ?{on_host}",
        [iso(since), iso(until), *([host] if host is not None else [])],
    )
    flags = host_flags(db, [(r[0], r[1]) for r in rows])
    by_policy: dict[str, dict[str, Any]] = {}
    heal_times: dict[str, list[float]] = {}
    for where, incident, policy, status, escalated, opened, closed in rows:
        name = policy or "(none)"
        s = by_policy.setdefault(
            name,
            dict.fromkeys(
                ("opened", "fired", "healed", "cleared", "escalated", "suppressed", "dry_run"),
                0,
            )
            | {"policy": name, "open": 0},
        )
        f = flags[where, incident]
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
