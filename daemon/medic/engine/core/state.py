"""What happens next to one target under one policy: a pure function of state and time.

Nothing here sleeps, reads a clock, touches the database or runs an action. The
scheduler feeds measurements and the runner reports what it did; each function
returns the new state and the audit notes that the transition produces. Tests drive
it with plain numbers for time.

    ok --condition--> pending --held for `for:`--> firing
    firing --admitted--> remediating --steps done--> verifying
    firing --admitted, approval required--> awaiting_approval --granted--> firing (acts)
    awaiting_approval --denied / timed out--> firing (never acts in this incident)
    verifying --cleared--> ok (healed)      verifying --still bad--> firing (next attempt)
    firing --suppressed--> firing (audited with the reason)
    pending/firing/awaiting_approval --cleared--> ok (cleared)

This module is the state machine's one entry point: the records it passes around
(:class:`TargetState`, :class:`Transition`, :class:`Note`, :class:`Escalate`) are
defined in :mod:`medic.engine.core.target_state` and the approval transitions in
:mod:`medic.engine.core.state_approval`; both are importable from here.

While a silence covers a target, :func:`hush` keeps its escalations from anyone:
they are audited with the silence that held them back, once per silence, and the
target is not marked escalated, so the first escalation-worthy moment after the
silence pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from medic.audit.events import Kind, Reason
from medic.engine.core.state_approval import answer, await_approval, expire_approval, stop_asking
from medic.engine.core.target_state import (
    FIRING_PHASES,
    Escalate,
    Note,
    Phase,
    TargetState,
    Transition,
    enter,
    new_incident_id,
)
from medic.policy.model import Policy

# Repeated suppressions for the same reason are folded into one audit line this often.
SUPPRESSION_REPEAT = 60.0
# Suppressions that page nobody: dry-run is a rehearsal, a silence is a human's word,
# an inhibited policy's cause pages for itself, and the audit alarm pages directly.
QUIET_REASONS = frozenset(
    {
        Reason.DRY_RUN,
        Reason.SILENCED,
        Reason.MAINTENANCE,
        Reason.INHIBITED,
        Reason.AUDIT_UNWRITABLE,
    }
)
# Refusals that are waits, not refusals: the attempt runs once the cooldown ends or a
# running action finishes. They are audited as ``action.deferred`` and never page.
WAITS = frozenset({Reason.COOLDOWN, Reason.CONCURRENCY, Reason.BLAST_RADIUS})
# An incident's approval answers after which it is never acted on.
STOPPED = frozenset({"denied", "expired", "closed"})


def _closed(now: float, values: Mapping[str, Any]) -> TargetState:
    return TargetState(phase=Phase.OK, since=now, values=values)


def observe(
    state: TargetState,
    policy: Policy,
    fields: Mapping[str, Any],
    now: float,
    incident_id: str | None = None,
) -> Transition:
    """Feed one measurement of the target. ``incident_id`` names a new incident if one opens."""
    state = state.with_values(fields)
    firing_now = bool(policy.when.evaluate(fields))

    if state.phase == Phase.OK:
        if not firing_now:
            return Transition(state)
        incident = incident_id or new_incident_id()
        notes = [Note(Kind.DETECTED, details={"condition": policy.when.text})]
        if policy.hold > 0:
            pending = enter(state, Phase.PENDING, now, incident=incident, detected_at=now)
            notes.append(Note(Kind.PENDING, details={"hold_seconds": policy.hold}))
            return Transition(pending, tuple(notes))
        fired = enter(state, Phase.FIRING, now, incident=incident, detected_at=now)
        notes.append(Note(Kind.FIRED))
        return _fire(fired, policy, notes)

    if state.phase == Phase.PENDING:
        if not firing_now:
            reason = "condition did not hold for the `for:` period"
            return Transition(
                _closed(now, fields), (Note(Kind.CLEARED, "cleared", {"reason": reason}),)
            )
        if state.detected_at is not None and now - state.detected_at >= policy.hold:
            fired = enter(state, Phase.FIRING, now)
            return _fire(fired, policy, [Note(Kind.FIRED)])
        return Transition(state)

    if state.phase == Phase.FIRING:
        if policy.is_cleared(fields):
            return _cleared(state, now, fields, "condition cleared")
        return _fire(state, policy, [])

    if state.phase == Phase.VERIFYING:
        if state.verify_at is None or now < state.verify_at:
            return Transition(state)
        return _verify(state, policy, fields, now)

    if state.phase == Phase.AWAITING_APPROVAL:
        return _awaiting(state, policy, fields, now)

    # REMEDIATING: the runner owns the target until its steps are done.
    return Transition(state)


def _awaiting(
    state: TargetState, policy: Policy, fields: Mapping[str, Any], now: float
) -> Transition:
    """Waiting for a human: the problem may go away, or the time to answer run out."""
    if policy.is_cleared(fields):
        return _cleared(state, now, fields, "condition cleared while awaiting approval")
    if state.approval_expires is not None and now >= state.approval_expires:
        return expire_approval(state, policy, now)
    return Transition(state)


def _fire(state: TargetState, policy: Policy, notes: list[Note]) -> Transition:
    """A firing target wants remediation, or, with none configured, a human."""
    if state.approval in STOPPED:
        return Transition(state, tuple(notes))  # a human said no, or nobody said yes
    if policy.remediate:
        return Transition(state, tuple(notes), wants_action=True)
    if state.escalated:
        return Transition(state, tuple(notes))
    escalation = Escalate("no_remediation", f"{policy.name}: {policy.when.text}")
    return Transition(replace(state, escalated=True), tuple(notes), escalate=escalation)


def _owed(state: TargetState) -> bool:
    """Someone was paged or asked about this incident: tell them when it ends."""
    return state.escalated or state.asked


def _cleared(state: TargetState, now: float, fields: Mapping[str, Any], reason: str) -> Transition:
    notes = (Note(Kind.CLEARED, "cleared", {"reason": reason}),)
    resolve = Escalate("cleared", reason, resolve=True) if _owed(state) else None
    return Transition(_closed(now, fields), notes, escalate=resolve)


def _verify(
    state: TargetState, policy: Policy, fields: Mapping[str, Any], now: float
) -> Transition:
    if policy.is_cleared(fields):
        healed_notes = (Note(Kind.VERIFY_HEALED, "healed", {"attempts": state.attempts}),)
        if _owed(state):
            resolve = Escalate("healed", "healed by remediation", resolve=True)
        elif policy.escalate.notify_healed:  # a notice for the record, nobody was paged
            notice = f"healed by remediation after {state.attempts} attempt(s); nobody was paged"
            resolve = Escalate("healed", notice, resolve=True, notify=policy.escalate.notify_healed)
        else:
            resolve = None
        return Transition(_closed(now, fields), healed_notes, escalate=resolve)
    failures = state.failures + 1
    notes = [Note(Kind.VERIFY_NOT_HEALED, "not_healed", {"attempt": state.attempts})]
    nxt = enter(state, Phase.FIRING, now, failures=failures, verify_at=None)
    escalation = None
    esc = policy.escalate
    if not state.escalated and failures >= esc.after_failures:
        summary = f"{failures} remediation attempt(s) did not heal {policy.name}"
        escalation = Escalate("remediation_failed", summary)
        nxt = replace(nxt, escalated=True)
    return Transition(nxt, tuple(notes), wants_action=True, escalate=escalation)


def admit(state: TargetState, now: float) -> TargetState:
    """Limits allowed an attempt: the runner starts the remediation steps."""
    return enter(state, Phase.REMEDIATING, now, attempts=state.attempts + 1, last_suppression=None)


def withdraw(state: TargetState, now: float) -> TargetState:
    """The attempt was admitted but no step ran (its intent could not be recorded):
    firing again, the attempt not counted, so the next evaluation tries again."""
    return enter(state, Phase.FIRING, now, attempts=max(0, state.attempts - 1))


def finish(state: TargetState, policy: Policy, now: float) -> TargetState:
    """The steps ran (whatever their outcome): verify after ``verify.after``."""
    return enter(state, Phase.VERIFYING, now, verify_at=now + policy.verify.after)


def suppress(
    state: TargetState, policy: Policy, reason: str, now: float, details: Mapping[str, Any]
) -> Transition:
    """Limits refused an attempt. Audited (repeats folded), escalated once per incident.

    A wait (:data:`WAITS`: cooldown, concurrency cap, blast radius) only defers the
    attempt: it is audited as ``action.deferred`` and never pages by itself; the
    attempts that then run and fail are what ``escalate.after_failures`` counts.
    """
    repeat = state.last_suppression == reason
    notes: tuple[Note, ...] = ()
    repeats = state.suppressed_repeats + 1 if repeat else 0
    kind = Kind.DEFERRED if reason in WAITS else Kind.SUPPRESSED
    if not repeat or now - state.last_suppression_at >= SUPPRESSION_REPEAT:
        extra = {"repeats": repeats} if repeat else {}
        notes = (Note(kind, reason, {"reason": reason, **details, **extra}),)
        nxt = replace(state, last_suppression=reason, last_suppression_at=now, suppressed_repeats=0)
    else:
        nxt = replace(state, suppressed_repeats=repeats)
    escalation = None
    pages = reason not in QUIET_REASONS and reason not in WAITS
    if policy.escalate.on_suppressed and not state.escalated and pages:
        escalation = Escalate(
            f"suppressed:{reason}", f"{policy.name}: action suppressed ({reason})"
        )
        nxt = replace(nxt, escalated=True)
    return Transition(nxt, notes, escalate=escalation)


def vanish(state: TargetState, now: float) -> Transition:
    """The target is no longer selected (container removed, mount gone)."""
    if state.incident is None or state.phase == Phase.REMEDIATING:
        return Transition(state)
    return _cleared(state, now, state.values, "target no longer selected")


# -- silences -----------------------------------------------------------------------


def hush(old: TargetState, tr: Transition, silence: str) -> Transition:
    """``tr`` under the silence with id ``silence``: its escalation reaches nobody.

    The escalation is kept, marked with the silence, the first time under each
    silence (the runner audits it) and dropped on repeats; the target keeps the
    escalated and asked flags it had, so once the silence ends the first
    escalation-worthy transition pages. Resolves are never held back.
    """
    request = tr.escalate
    if request is None or request.resolve:
        return tr
    state = replace(tr.state, escalated=old.escalated, asked=old.asked, hushed=silence)
    if old.hushed == silence:
        return replace(tr, state=state, escalate=None)
    return replace(tr, state=state, escalate=replace(request, silenced_by=silence))


__all__ = [
    "FIRING_PHASES",
    "QUIET_REASONS",
    "STOPPED",
    "SUPPRESSION_REPEAT",
    "WAITS",
    "Escalate",
    "Note",
    "Phase",
    "TargetState",
    "Transition",
    "admit",
    "answer",
    "await_approval",
    "expire_approval",
    "finish",
    "hush",
    "new_incident_id",
    "observe",
    "stop_asking",
    "suppress",
    "vanish",
    "withdraw",
]
