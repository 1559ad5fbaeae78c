"""The paging history of open incidents: what the on-call levels are rebuilt from."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from medic.audit.events import Kind


def paging_events(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Pages sent (``incident.escalated`` with outcome ``escalated``) and
    acknowledgements of the incidents still open, oldest first."""
    rows = conn.execute(
        "SELECT e.kind, e.time, e.policy, e.target, e.incident, e.details FROM events e"
        " JOIN incidents i ON i.id = e.incident WHERE i.status = 'open' AND"
        " ((e.kind = ? AND e.outcome = 'escalated') OR e.kind = ?) ORDER BY e.time, e.id",
        [Kind.ESCALATED.value, Kind.ACKNOWLEDGED.value],
    )
    out = []
    for kind, time, policy, target, incident, details in rows:
        try:
            parsed = json.loads(details) if details else {}
        except ValueError:
            parsed = {}
        out.append(
            {
                "kind": kind,
                "time": time,
                "policy": policy,
                "target": target,
                "incident": incident,
                "details": parsed if isinstance(parsed, dict) else {},
            }
        )
    return out
