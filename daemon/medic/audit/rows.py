"""What one audit event becomes in SQLite: its ``events`` row and its effect on ``incidents``.

:func:`encode_event` redacts an event and turns it into the row the writer inserts
(text SQLite can store, compact JSON, an ISO time that never fails);
:func:`update_incidents` applies a batch of those rows to the ``incidents`` table in
the writer's transaction, so the two tables never disagree.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from typing import Any

from medic.audit.events import INCIDENT_CLOSERS, AuditEvent, Kind
from medic.clock import iso
from medic.redact import redact, redact_text


def _storable(text: str) -> str:
    """``text`` as SQLite can store it: lone surrogates escaped rather than fatal."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode()
    return text


def _text(value: str | None) -> str | None:
    return None if value is None else _storable(redact_text(value))


def _when(ts: float) -> str:
    """The event's time as ISO text; an impossible time becomes now, not a crash."""
    try:
        return iso(ts)
    except (ValueError, OverflowError, OSError, TypeError):
        return iso(time.time())


def _plain(value: Any) -> Any:
    """``value`` reduced to what JSON holds (str keys, finite numbers, lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def to_json(value: Any) -> str:
    """Compact JSON text with sorted keys; never raises on odd values."""
    try:
        text = _JSON(value)
    except (TypeError, ValueError):
        text = _JSON(_plain(value))
    return _storable(text)


def encode_event(event: AuditEvent, host: str) -> tuple[tuple[Any, ...], AuditEvent]:
    """The row for ``event`` (``time`` .. ``details``) and the redacted event."""
    values = None if event.values is None else redact(event.values)
    details = redact(event.details)
    row = (
        _when(event.time),
        host,
        str(event.kind),
        _text(event.policy),
        _text(event.target),
        _text(event.incident),
        _text(event.action),
        _text(event.outcome),
        None if values is None else to_json(values),
        to_json(details),
    )
    redacted = AuditEvent(
        event.kind, event.time, row[3], row[4], row[5], row[6], row[7], values, details
    )
    return row, redacted


# -- incidents: kept in step with the events, in the same transaction -----------------

_CLOSED_STATUS = {Kind.VERIFY_HEALED.value: "healed", Kind.CLEARED.value: "cleared"}
_CLOSERS = frozenset(kind.value for kind in INCIDENT_CLOSERS)


_NOT_SENT = frozenset({"dry_run", "silenced", "no_channel"})


def update_incidents(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Apply a batch of event rows to ``incidents``: the first event naming an incident
    opens its row (normally incident.detected), incident.escalated marks it, the
    closers (verify.healed, incident.cleared) close it, every event moves last_event.

    Done per batch rather than by a trigger per row: a batch touches few incidents,
    while a trigger cost about 30 µs of CPU per row, three times the insert itself."""
    first: dict[str, tuple[Any, ...]] = {}
    last: dict[str, str] = {}
    changes: list[tuple[str, tuple[Any, ...]]] = []
    for when, host, kind, policy, target, incident, _action, outcome, *_ in rows:
        if incident is None:
            continue
        first.setdefault(incident, (incident, policy, target, host, when, when))
        last[incident] = max(last.get(incident, when), when)
        # An escalation held back (dry-run, silenced) reached nobody: not "escalated".
        if kind == Kind.ESCALATED and outcome not in _NOT_SENT:
            changes.append(("UPDATE incidents SET escalated = 1 WHERE id = ?", (incident,)))
        elif kind in _CLOSERS:
            changes.append((_CLOSE, (when, _CLOSED_STATUS.get(kind, "cleared"), incident)))
    if not first:
        return
    conn.executemany(_OPEN, list(first.values()))
    for sql, params in changes:
        conn.execute(sql, params)
    conn.executemany(_TOUCH, [(when, incident, when) for incident, when in last.items()])


_OPEN = (
    "INSERT OR IGNORE INTO incidents (id, policy, target, host, opened, last_event, status,"
    " escalated) VALUES (?, ?, ?, ?, ?, ?, 'open', 0)"
)
_CLOSE = "UPDATE incidents SET closed = ?, status = ? WHERE id = ? AND closed IS NULL"
_TOUCH = "UPDATE incidents SET last_event = ? WHERE id = ? AND last_event < ?"
