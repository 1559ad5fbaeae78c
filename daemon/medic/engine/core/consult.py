"""What a runner does when an admitted attempt needs a human's yes: a pure decision.

:func:`consult` looks at the incident's approval request (none yet, waiting, granted,
expired, refused) and returns a :class:`Consulted`: a request to record and send, the
transition to apply or the state to take quietly, whether to go on and act, which
decision closes the request, and when to evaluate again. :func:`answered` is the
target's state once a human answered. The runner applies both; the request book and
its table are :mod:`medic.engine.asking`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

from medic.engine.core import state as st
from medic.engine.core.approvals import Decision, Next, Request, next_step
from medic.policy.model import Policy

Links = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Consulted:
    """The runner's next steps, in this order."""

    # A new request to record (in the book and its table) before anything is told.
    ask: Request | None = None
    # Apply it: audit its notes, tell humans (the approval request itself).
    transition: st.Transition | None = None
    # Take it quietly: nothing to audit.
    state: st.TargetState | None = None
    # The request this incident had closes so, after the transition.
    close: Decision | None = None
    # A grant given while the agent was not watching: go on to act.
    act: bool = False
    # Evaluate again at this wall-clock time (the request expires).
    wake: float | None = None


def consult(
    state: st.TargetState,
    policy: Policy,
    request: Request | None,
    now: float,
    links: Links = (),
    target: str = "",
) -> Consulted:
    """The decision for ``state`` (firing, with an incident) of a policy with
    ``approval:``, given the incident's ``request`` (None: never asked)."""
    assert state.incident is not None and policy.approval is not None
    step = next_step(request, now)
    if step == Next.ASK:
        expires = now + policy.approval.timeout
        ask = Request(state.incident, policy.name, target, now, expires)
        tr = st.await_approval(state, policy, now, expires, links=links)
        return Consulted(ask=ask, transition=tr, wake=expires)
    assert request is not None
    if step == Next.WAIT:  # asked before a restart: wait again, ask nobody twice
        tr = st.await_approval(state, policy, now, request.expires, resumed=True)
        return Consulted(state=tr.state, wake=request.expires)
    if step == Next.ACT:  # granted while the agent was not watching this target
        return Consulted(state=st.answer(state, True, now), act=True)
    if step == Next.EXPIRE:  # expired while the agent was not running
        return Consulted(transition=st.expire_approval(state, policy, now), close=Decision.EXPIRED)
    assert request.decision is not None
    return Consulted(state=st.stop_asking(state, request.decision.value))


def answered(
    state: st.TargetState | None, incident: str, granted: bool, now: float
) -> st.TargetState | None:
    """The target's state once a human answered ``incident``'s request; None when the
    target is not waiting for that answer (the next admitted attempt reads it)."""
    if state is None or state.incident != incident:
        return None
    if state.phase != st.Phase.AWAITING_APPROVAL:
        return None
    return st.answer(state, granted, now)
