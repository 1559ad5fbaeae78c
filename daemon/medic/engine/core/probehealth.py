"""When a policy's probe keeps failing, Medic cannot see, so a human must: a pure count.

Each failed measurement adds one; a good one resets the count. At
``escalate.on_probe_failure`` consecutive failures (0: never) an incident of its own
opens for the policy's pseudo-target ``(probe)``, so it has an id, a place in the
audit log and a resolve, and humans are told once (reason ``probe_failing``). When
the probe measures again the incident clears and, if someone was told, a resolve
follows. Silences hold the escalation back exactly as they do for targets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from medic.audit.events import Kind
from medic.engine.core.target_state import Escalate, Note, new_incident_id
from medic.policy.model import Policy

PROBE_TARGET = "(probe)"


@dataclass(frozen=True)
class ProbeHealth:
    failures: int = 0
    incident: str | None = None
    escalated: bool = False
    hushed: str | None = None  # the silence under which the escalation was held back


@dataclass(frozen=True)
class HealthChange:
    health: ProbeHealth
    notes: tuple[Note, ...] = ()
    escalate: Escalate | None = None


def inherited(incident: str | None) -> ProbeHealth:
    """The state after a restart that left a ``(probe)`` incident open (it had paged)."""
    return ProbeHealth(incident=incident, escalated=incident is not None)


def failed(
    health: ProbeHealth, policy: Policy, error: str, incident_id: str | None = None
) -> HealthChange:
    """One more failed measurement; at the threshold, an incident opens and a human is told."""
    failures = health.failures + 1
    threshold = policy.escalate.on_probe_failure
    counted = replace(health, failures=failures)
    if threshold == 0 or failures < threshold or health.escalated:
        return HealthChange(counted)
    notes: tuple[Note, ...] = ()
    incident = health.incident
    if incident is None:
        incident = incident_id or new_incident_id()
        notes = (
            Note(
                Kind.DETECTED,
                details={"condition": "the probe keeps failing", "failures": failures},
            ),
        )
    summary = (
        f"{policy.name}: the probe failed {failures} times in a row ({error}); "
        "Medic cannot see this, a human must look"
    )
    return HealthChange(
        replace(counted, incident=incident, escalated=True),
        notes,
        Escalate("probe_failing", summary),
    )


def recovered(health: ProbeHealth) -> HealthChange:
    """The probe measured again: the count resets, its incident clears (with a resolve)."""
    if health.incident is None:
        return HealthChange(ProbeHealth())
    notes = (Note(Kind.CLEARED, "cleared", {"reason": "the probe measures again"}),)
    resolve = (
        Escalate("probe_recovered", "the probe measures again", resolve=True)
        if health.escalated
        else None
    )
    return HealthChange(ProbeHealth(), notes, resolve)


def hush(old: ProbeHealth, change: HealthChange, silence: str) -> HealthChange:
    """``change`` under a silence: audited once per silence, delivered to nobody."""
    request = change.escalate
    if request is None or request.resolve:
        return change
    health = replace(change.health, escalated=old.escalated, hushed=silence)
    if old.hushed == silence:
        return replace(change, health=health, escalate=None)
    return replace(change, health=health, escalate=replace(request, silenced_by=silence))
