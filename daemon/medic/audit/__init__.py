"""The audit log: every decision and action, written before and after, in SQLite."""

from medic.audit.events import AuditEvent, Kind

__all__ = ["AuditEvent", "Kind"]
