"""One incident, made for review: a header, a timeline and the measured values over time.

The header says what a person asks first (what, where, how did it end, how long, how
many tries, who approved, who was told); the timeline lists the events with the probe
fields shown only where they change; the chart series hold every numeric (or true/false)
field the events recorded, with markers where the incident fired, acted and verified.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from typing import Any

from medic.audit.events import ACTION_OUTCOMES, Kind
from medic.audit.review import awaiting_approval, incident_flags
from medic.audit.review_db import ReviewDb, as_db
from medic.clock import parse_iso

_OUTCOMES = frozenset(k.value for k in ACTION_OUTCOMES)
_ANSWERS = {
    Kind.APPROVAL_GRANTED.value: "granted",
    Kind.APPROVAL_DENIED.value: "denied",
    Kind.APPROVAL_EXPIRED.value: "expired",
}
_MARKERS = {
    Kind.FIRED.value: "fired",
    Kind.ACTION_STARTED.value: "acted",
    Kind.ACTION_WOULD_RUN.value: "acted",
    Kind.VERIFY_HEALED.value: "verified",
    Kind.VERIFY_NOT_HEALED.value: "verified",
}


def _changed(previous: dict[str, Any], values: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fields of ``values`` that differ from ``previous`` (all of them the first time)."""
    if not isinstance(values, dict):
        return None
    return {k: v for k, v in values.items() if k not in previous or previous[k] != v}


def timeline(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events, oldest first, each with ``changed``: the probe fields that changed since
    the last event that carried fields (``values`` is dropped: the page shows it once)."""
    seen: dict[str, Any] = {}
    out = []
    for event in events:
        values = event.get("values")
        changed = _changed(seen, values)
        if isinstance(values, dict):
            seen = {**seen, **values}
        raw = event.get("details")
        details: dict[str, Any] = raw if isinstance(raw, dict) else {}
        out.append(
            {
                "id": event["id"],
                "time": event["time"],
                "kind": event["kind"],
                "action": event["action"],
                "outcome": event["outcome"],
                "changed": changed,
                "details": details,
                "dry_run": event["kind"] == Kind.ACTION_WOULD_RUN
                or event["outcome"] == "dry_run"
                or bool(details.get("dry_run")),
            }
        )
    return out


def _plottable(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    return None


def chart(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Series of every plottable field (true/false as 1/0, listed in ``boolean``),
    markers, and the field to show first (one the condition names, else the first)."""
    series: dict[str, list[list[float]]] = {}
    not_boolean: set[str] = set()
    markers = []
    for event in events:
        t = parse_iso(event["time"])
        values = event.get("values")
        if isinstance(values, dict):
            for name, value in values.items():
                number = _plottable(value)
                if number is not None:
                    series.setdefault(name, []).append([t, number])
                    if not isinstance(value, bool):
                        not_boolean.add(name)
        if event["kind"] in _MARKERS:
            markers.append({"time": t, "mark": _MARKERS[event["kind"]], "kind": event["kind"]})
    condition = next(
        (
            str(e["details"].get("condition", ""))
            for e in events
            if e["kind"] == Kind.DETECTED and isinstance(e.get("details"), dict)
        ),
        "",
    )
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", condition))
    named = [name for name in series if name in words]
    choices = named or list(series)
    field = choices[0] if choices else None
    return {
        "field": field,
        "condition": condition or None,
        "series": series,
        "boolean": sorted(set(series) - not_boolean),
        "markers": markers,
    }


def _people(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Who answered approvals, and which notifications were sent or failed."""
    answers, notifications = [], []
    for e in events:
        details = e["details"] if isinstance(e.get("details"), dict) else {}
        if e["kind"] in _ANSWERS:
            answers.append(
                {
                    "time": e["time"],
                    "decision": _ANSWERS[e["kind"]],
                    "by": details.get("by"),
                    "comment": details.get("comment"),
                }
            )
        elif e["kind"] in (Kind.NOTIFY_SENT, Kind.NOTIFY_FAILED):
            notifications.append(
                {
                    "time": e["time"],
                    "sent": e["kind"] == Kind.NOTIFY_SENT,
                    "notifier": details.get("notifier"),
                    "notification": details.get("notification"),
                    "reason": details.get("reason"),
                    "error": details.get("error"),
                }
            )
    return answers, notifications


def _read(db: ReviewDb, table: str, incident: str, host: str | None) -> list[dict[str, Any]]:
    """The incident's rows of ``table`` (of ``host`` when given), in time order."""
    column, order = ("incident", "time, id") if table == "events" else ("id", "opened")
    on_host = " AND host = ?" if host is not None else ""
    sql = f"SELECT * FROM {table} WHERE {column} = ?{on_host} ORDER BY {order}"  # noqa: S608 -- fixed names
    return db.dicts(sql, [incident, *([host] if host is not None else [])])


def incident_review(
    conn: sqlite3.Connection | ReviewDb, incident: str, now: float, host: str | None = None
) -> dict[str, Any] | None:
    """Header, timeline and chart of one incident (of ``host`` when given: central ids
    are unique per host); None when no such incident exists."""
    db = as_db(conn)
    rows = _read(db, "incidents", incident, host)
    events = _read(db, "events", incident, host)
    if host is None and len({r["host"] for r in rows}) > 1:
        return None  # the same id on two hosts: the caller must say which
    row = rows[0] if rows else None
    if row is not None:
        row["escalated"] = bool(row["escalated"])
    if row is None and not events:
        return None
    if row is None:  # events that name an incident the table never opened (hand edits)
        first = events[0]
        row = {
            "id": incident,
            "policy": first["policy"],
            "target": first["target"],
            "host": first["host"],
            "opened": first["time"],
            "closed": None,
            "status": "open",
            "escalated": False,
            "last_event": events[-1]["time"],
        }
    flags = incident_flags(db, [incident], host)[incident]
    end = parse_iso(row["closed"]) if row["closed"] else now
    answers, notifications = _people(events)
    outcomes = Counter(e["kind"] for e in events if e["kind"] in _OUTCOMES)
    escalations = [
        {"time": e["time"], "outcome": e["outcome"], "reason": e["details"].get("reason")}
        for e in events
        if e["kind"] == Kind.ESCALATED and isinstance(e.get("details"), dict)
    ]
    suppressions = Counter(e["outcome"] or "?" for e in events if e["kind"] == Kind.SUPPRESSED)
    header = {
        **row,
        "escalated": bool(row["escalated"]) or flags["told"],
        "duration": round(max(0.0, end - parse_iso(row["opened"])), 3),
        "attempts": flags["attempts"],
        "dry_run": flags["dry_run"],
        "awaiting_approval": incident in awaiting_approval(db, [incident], now),
        "outcomes": dict(sorted(outcomes.items())),
        "suppressed": flags["suppressed"],
        "suppressions": dict(sorted(suppressions.items())),
        "approvals": answers,
        "notifications": notifications,
        "escalations": escalations,
    }
    return {"incident": header, "timeline": timeline(events), "chart": chart(events)}
