"""The ``approvals`` and ``silences`` tables: what humans decided, kept across restarts.

Each function runs on the audit store's one writer connection (hand it to
``AuditStore.write``); the records and every decision about them are the pure
:mod:`medic.engine.core.approvals` and :mod:`medic.engine.core.silences`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from medic.clock import iso, parse_iso
from medic.engine.core.approvals import Decision, Request
from medic.engine.core.silences import Matchers, Silence

# -- the ``approvals`` table ----------------------------------------------------------


def save_request(conn: sqlite3.Connection, request: Request) -> None:
    conn.execute(
        'INSERT INTO approvals (incident, requested, expires, decision, decided, "by", comment)'
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(incident) DO UPDATE SET"
        ' decision = excluded.decision, decided = excluded.decided, "by" = excluded."by",'
        " comment = excluded.comment",
        (
            request.incident,
            iso(request.requested),
            iso(request.expires),
            request.decision.value if request.decision else None,
            iso(request.decided) if request.decided is not None else None,
            request.by,
            request.comment,
        ),
    )


def _request(row: tuple[Any, ...]) -> Request:
    incident, policy, target, requested, expires, decision, decided, by, comment = row
    return Request(
        incident=incident,
        policy=policy or "",
        target=target or "",
        requested=parse_iso(requested),
        expires=parse_iso(expires),
        decision=Decision(decision) if decision else None,
        decided=parse_iso(decided) if decided else None,
        by=by,
        comment=comment,
    )


_SELECT = (
    'SELECT a.incident, i.policy, i.target, a.requested, a.expires, a.decision, a.decided, a."by",'
    " a.comment FROM approvals AS a LEFT JOIN incidents AS i ON i.id = a.incident"
)


def load_open_requests(conn: sqlite3.Connection) -> list[Request]:
    """Requests whose incident is still open: a restart keeps waiting (or acting) on them."""
    rows = conn.execute(_SELECT + " WHERE i.status = 'open'")
    return [_request(row) for row in rows]


def find_request(conn: sqlite3.Connection, incident: str) -> Request | None:
    """The request for one incident, open or closed."""
    row = conn.execute(_SELECT + " WHERE a.incident = ?", (incident,)).fetchone()
    return _request(row) if row else None


# -- the ``silences`` table -----------------------------------------------------------


def save_silence(conn: sqlite3.Connection, silence: Silence) -> None:
    conn.execute(
        "INSERT INTO silences (id, created, starts, ends, author, reason, matchers, act)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            silence.id,
            iso(silence.created),
            iso(silence.starts),
            iso(silence.ends),
            silence.author,
            silence.reason,
            json.dumps(silence.matchers.as_dict(), sort_keys=True),
            int(silence.act),
        ),
    )


def save_expiry(conn: sqlite3.Connection, silence: Silence) -> None:
    assert silence.expired_early is not None
    conn.execute(
        "UPDATE silences SET expired_early = ? WHERE id = ?",
        (iso(silence.expired_early), silence.id),
    )


def load_silences(conn: sqlite3.Connection, now: float) -> list[Silence]:
    """Ad-hoc silences that have not ended and were not expired early."""
    rows = conn.execute(
        "SELECT id, created, starts, ends, author, reason, matchers, act FROM silences"
        " WHERE ends > ? AND expired_early IS NULL ORDER BY ends",
        (iso(now),),
    )
    return [
        Silence(
            id=row[0],
            created=parse_iso(row[1]),
            starts=parse_iso(row[2]),
            ends=parse_iso(row[3]),
            author=row[4],
            reason=row[5],
            matchers=Matchers.from_dict(json.loads(row[6])),
            act=bool(row[7]),
        )
        for row in rows
    ]
