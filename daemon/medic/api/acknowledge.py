"""Acknowledging an incident: a human says they have seen it.

An acknowledgement changes nothing Medic does; it is audited
(``incident.acknowledged`` with who and how) so the incident's story shows that
someone is on it. It comes from ``medic ack``, the API, or the acknowledge link in a
message.
"""

from __future__ import annotations

from typing import Any

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore


class NoSuchIncident(LookupError):
    """The audit log has no event for this incident."""


async def acknowledge(
    audit: AuditStore, incident: str, by: str, now: float, *, via: str, comment: str | None = None
) -> dict[str, Any]:
    """Audit (durably) that ``by`` has seen ``incident``; NoSuchIncident if unknown."""
    events = await audit.incident_events(incident)
    if not events:
        raise NoSuchIncident(incident)
    first = events[0]
    details: dict[str, Any] = {"by": by, "via": via}
    if comment:
        details["comment"] = comment
    await audit.emit_durable(
        AuditEvent(
            Kind.ACKNOWLEDGED,
            now,
            policy=first.get("policy"),
            target=first.get("target"),
            incident=incident,
            outcome="acknowledged",
            details=details,
        )
    )
    return {
        "incident": incident,
        "policy": first.get("policy"),
        "target": first.get("target"),
        "acknowledged_by": by,
        "via": via,
    }
