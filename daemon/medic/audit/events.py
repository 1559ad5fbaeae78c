"""Typed audit events.

Every transition of every target under every policy is one of these. The kind names
are the public vocabulary of the audit log: the CLI filters on them, the API returns
them and the docs list them (a test checks that docs/audit.md names each one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    AGENT_STARTED = "agent.started"
    AGENT_STOPPED = "agent.stopped"
    AGENT_RELOADED = "agent.reloaded"
    POLICY_LOADED = "policy.loaded"
    POLICY_REJECTED = "policy.rejected"
    POLICY_ACCEPTED = "policy.accepted"
    POLICY_REMOVED = "policy.removed"
    POLICY_WARNING = "policy.warning"
    PROBE_FAILED = "probe.failed"
    PROBE_RECOVERED = "probe.recovered"
    SELECTION_EMPTY = "probe.empty"
    DETECTED = "incident.detected"
    PENDING = "incident.pending"
    FIRED = "incident.fired"
    CLEARED = "incident.cleared"
    ESCALATED = "incident.escalated"
    ACKNOWLEDGED = "incident.acknowledged"
    SUPPRESSED = "action.suppressed"
    DEFERRED = "action.deferred"
    ACTION_WOULD_RUN = "action.would_run"
    ACTION_STARTED = "action.started"
    ACTION_SUCCEEDED = "action.succeeded"
    ACTION_FAILED = "action.failed"
    ACTION_TIMED_OUT = "action.timed_out"
    ACTION_INTERRUPTED = "action.interrupted"
    VERIFY_HEALED = "verify.healed"
    VERIFY_NOT_HEALED = "verify.not_healed"
    NOTIFY_SENT = "notification.sent"
    NOTIFY_FAILED = "notification.failed"
    BREAKER_OPENED = "breaker.opened"
    BREAKER_CLOSED = "breaker.closed"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_GRANTED = "approval.granted"
    APPROVAL_DENIED = "approval.denied"
    APPROVAL_EXPIRED = "approval.expired"
    SILENCE_CREATED = "silence.created"
    SILENCE_EXPIRED = "silence.expired"
    AUDIT_RECOVERED = "audit.recovered"
    AUDIT_PRUNED = "audit.pruned"
    FLEET_SLOT_TAKEN = "fleet.slot_taken"
    FLEET_BUDGET_EXHAUSTED = "fleet.budget_exhausted"
    FLEET_UNREACHABLE = "fleet.unreachable"


# Kinds that end an action started earlier (the outcome half of intent/outcome).
ACTION_OUTCOMES = frozenset(
    {Kind.ACTION_SUCCEEDED, Kind.ACTION_FAILED, Kind.ACTION_TIMED_OUT, Kind.ACTION_INTERRUPTED}
)
# Kinds that close an incident.
INCIDENT_CLOSERS = frozenset({Kind.VERIFY_HEALED, Kind.CLEARED})


class Reason(StrEnum):
    """Why an action that the condition called for was not carried out."""

    DRY_RUN = "dry_run"
    RATE_LIMIT = "rate_limit"
    COOLDOWN = "cooldown"
    CONCURRENCY = "concurrency"
    BLAST_RADIUS = "blast_radius"
    CIRCUIT_BREAKER = "circuit_breaker"
    NO_REMEDIATION = "no_remediation"
    SILENCED = "silenced"
    MAINTENANCE = "maintenance"
    INHIBITED = "inhibited"
    AUDIT_UNWRITABLE = "audit_unwritable"
    FLEET_BUDGET = "fleet_budget"
    FLEET_UNREACHABLE = "fleet_unreachable"


@dataclass(frozen=True)
class AuditEvent:
    """One line of the audit log. ``time`` is wall-clock seconds since the epoch."""

    kind: Kind
    time: float
    policy: str | None = None
    target: str | None = None
    incident: str | None = None
    action: str | None = None
    outcome: str | None = None
    values: Mapping[str, Any] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
