"""A runner asking a human before it acts: the I/O half of approvals.

The pure half is :func:`medic.engine.core.state.await_approval` and friends (what the
target's state becomes) and :func:`medic.engine.core.approvals.next_step` (what to do
given the incident's request). This part keeps the shared
:class:`~medic.engine.core.approvals.ApprovalBook` and the ``approvals`` table in step,
builds the approve and deny links, and wakes the runner when a request expires.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import quote

from medic.engine.core import state as st
from medic.engine.core.approvals import Decision, Next, Request, next_step
from medic.engine.human_tables import save_request

if TYPE_CHECKING:
    from medic.engine.runner import PolicyRunner


class Asking:
    """One runner's approval requests."""

    def __init__(self, runner: PolicyRunner) -> None:
        self.runner = runner
        self.engine = runner.engine

    def consult(self, target: str, state: st.TargetState, now: float) -> None:
        """The gate admitted an attempt and the policy needs a human's yes for it."""
        runner, policy = self.runner, self.runner.policy
        assert state.incident is not None and policy.approval is not None
        request = self.engine.approvals.get(state.incident)
        step = next_step(request, now)
        if step == Next.ASK:
            expires = now + policy.approval.timeout
            request = Request(state.incident, policy.name, target, now, expires)
            self.engine.approvals.ask(request)
            self.engine.persist(partial(save_request, request=request))
            links = self.links(state.incident)
            runner.apply(target, state, st.await_approval(state, policy, now, expires, links=links))
            self.wake_at(expires)
        elif step == Next.WAIT:  # asked before a restart: wait again, ask nobody twice
            assert request is not None
            tr = st.await_approval(state, policy, now, request.expires, resumed=True)
            runner.states[target] = tr.state
            self.wake_at(request.expires)
        elif step == Next.ACT:  # granted while the agent was not watching this target
            granted = st.answer(state, True, now)
            runner.states[target] = granted
            runner.fleet.admit(target, granted, now)
        elif step == Next.EXPIRE:  # expired while the agent was not running
            runner.apply(target, state, st.expire_approval(state, policy, now))
            self.close(state.incident, Decision.EXPIRED, now)
        else:
            assert request is not None and request.decision is not None
            runner.states[target] = st.stop_asking(state, request.decision.value)

    def answered(self, target: str, incident: str, granted: bool, now: float) -> None:
        """A human answered ``incident``'s request (already recorded and audited)."""
        state = self.runner.states.get(target)
        if state is None or state.incident != incident:
            return  # not watched now: the next admitted attempt reads the answer
        if state.phase != st.Phase.AWAITING_APPROVAL:
            return
        self.runner.states[target] = st.answer(state, granted, now)
        if granted:
            self.runner.try_act(target, now)  # limits are checked again, now

    def ended(self, old: st.TargetState, new: st.TargetState, now: float) -> None:
        """After a transition: a request whose target stopped waiting unanswered is closed
        (expired, or its incident ended); a closed incident's request is forgotten."""
        incident = old.incident
        if incident is None:
            return
        if old.phase == st.Phase.AWAITING_APPROVAL and new.phase != old.phase:
            self.close(
                incident, Decision.EXPIRED if new.approval == "expired" else Decision.CLOSED, now
            )
        if new.incident is None:
            self.engine.approvals.forget(incident)

    def close(self, incident: str, decision: Decision, now: float) -> None:
        closed = self.engine.approvals.close(incident, decision, now)
        if closed is not None:
            self.engine.persist(partial(save_request, request=closed))

    def links(self, incident: str) -> tuple[tuple[str, str], ...]:
        """Approve and deny: POST endpoints of the agent's API."""
        base = f"{self.engine.public_url.rstrip('/')}/api/v1/incidents/{quote(incident, safe='')}"
        return (("Approve (POST)", f"{base}/approve"), ("Deny (POST)", f"{base}/deny"))

    def wake_at(self, when: float) -> None:
        """Evaluate again when the request expires, whatever the policy's interval."""
        delay = max(0.0, when - self.engine.clock.wall()) + 0.01
        self.runner.engine.wake_later(delay, self.runner.trigger)
