"""Approval transitions: asking a human before acting, and what each answer does.

Pure like the rest of :mod:`medic.engine.core.state` (which re-exports these): the I/O half,
keeping the request book and its table in step, is :mod:`medic.engine.asking`.

    firing --admitted, approval required--> awaiting_approval --granted--> firing (acts)
    awaiting_approval --denied / timed out--> firing (never acts in this incident)
"""

from __future__ import annotations

from dataclasses import replace

from medic.audit.events import Kind
from medic.clock import iso
from medic.durations import format_duration
from medic.engine.core.target_state import Escalate, Note, Phase, TargetState, Transition, enter
from medic.policy.model import Policy


def await_approval(
    state: TargetState,
    policy: Policy,
    now: float,
    expires: float,
    *,
    links: tuple[tuple[str, str], ...] = (),
    resumed: bool = False,
) -> Transition:
    """The gate admitted an attempt the policy needs approval for: ask, and wait.

    ``resumed``: the request was made before a restart; wait again, ask nobody.
    """
    waiting = enter(
        state,
        Phase.AWAITING_APPROVAL,
        now,
        approval="requested",
        approval_expires=expires,
        asked=True,
        last_suppression=None,
    )
    if resumed:
        return Transition(waiting)
    timeout = format_duration(max(expires - now, 0.0))
    note = Note(
        Kind.APPROVAL_REQUESTED,
        "requested",
        {"timeout": timeout, "expires": iso(expires), "notify": list(policy.approval_notify)},
    )
    summary = (
        f"{policy.name} wants to act and needs approval within {timeout}: "
        f"`medic approve {state.incident}` or `medic deny {state.incident}`"
    )
    escalation = Escalate("approval_required", summary, notify=policy.approval_notify, links=links)
    return Transition(waiting, (note,), escalate=escalation)


def answer(state: TargetState, granted: bool, now: float) -> TargetState:
    """A human answered. Granted: firing, and the runner re-runs the gate at once.
    Denied: firing, and nothing is done for this incident."""
    return enter(
        state, Phase.FIRING, now, approval="granted" if granted else "denied", approval_expires=None
    )


def expire_approval(state: TargetState, policy: Policy, now: float) -> Transition:
    """Nobody answered in time: nothing is done for this incident, and a human is paged."""
    note = Note(Kind.APPROVAL_EXPIRED, "expired", {"requested_at": state.since})
    nxt = enter(state, Phase.FIRING, now, approval="expired", approval_expires=None, escalated=True)
    summary = f"nobody approved {policy.name}'s action in time; Medic did nothing"
    return Transition(nxt, (note,), escalate=Escalate("approval_timeout", summary))


def stop_asking(state: TargetState, decision: str) -> TargetState:
    """The incident's request was answered no (or lapsed) before: never act on it."""
    return replace(state, approval=decision)
