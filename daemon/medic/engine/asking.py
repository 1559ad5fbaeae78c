"""A runner asking a human before it acts: the I/O half of approvals.

The pure half is :mod:`medic.engine.core.consult` (what to do given the incident's
request), :func:`medic.engine.core.state.await_approval` and friends (what the
target's state becomes). This part keeps the shared
:class:`~medic.engine.core.approvals.ApprovalBook` and the ``approvals`` table in
step, builds the approve and deny links, and wakes the runner when a request
expires. It returns the decision for the runner to apply and changes no state of
the runner's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from urllib.parse import quote

from medic.engine.context import EngineContext
from medic.engine.core import state as st
from medic.engine.core.approvals import Decision
from medic.engine.core.consult import Consulted, consult
from medic.engine.human_tables import save_request
from medic.policy.model import Policy


class Asking:
    """One runner's approval requests; ``wake`` evaluates the runner again."""

    def __init__(self, engine: EngineContext, policy: Policy, wake: Callable[[], None]) -> None:
        self.engine = engine
        self.policy = policy
        self.wake = wake

    def consult(self, target: str, state: st.TargetState, now: float) -> Consulted:
        """The gate admitted an attempt and the policy needs a human's yes for it: a new
        request is recorded here; the rest of the decision is the runner's to apply."""
        assert state.incident is not None
        request = self.engine.approvals.get(state.incident)
        links = self.links(state.incident) if request is None else ()
        decided = consult(state, self.policy, request, now, links, target)
        if decided.ask is not None:
            self.engine.approvals.ask(decided.ask)
            self.engine.persist(partial(save_request, request=decided.ask))
        if decided.wake is not None:
            self.wake_at(decided.wake)
        return decided

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
        self.engine.wake_later(delay, self.wake)
