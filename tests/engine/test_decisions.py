"""The runner's helpers decide, the runner applies: approvals and probe runs as pure values."""

from __future__ import annotations

from dataclasses import replace

from kit.policies import make_policy
from medic.audit.events import Kind
from medic.engine.core import probehealth as ph
from medic.engine.core import sight
from medic.engine.core import state as st
from medic.engine.core.approvals import Decision, Request
from medic.engine.core.consult import Consulted, answered, consult
from medic.policy.model import Approval, Escalation, Policy

HIGH = {"value": 95}
LINKS = (("Approve (POST)", "http://m/a"), ("Deny (POST)", "http://m/d"))


def approving() -> Policy:
    return make_policy(approval=Approval(timeout=900), escalate=Escalation(notify=("oncall",)))


def firing(policy: Policy) -> st.TargetState:
    return st.observe(st.TargetState(), policy, HIGH, 0.0, incident_id="inc").state


def request(**changes: object) -> Request:
    return replace(Request("inc", "p", "t", 0.0, 900.0), **changes)  # type: ignore[arg-type]


def test_never_asked_asks_and_wakes_at_the_expiry() -> None:
    """No request yet: a new one to record, the approval transition (with links), a wake-up."""
    decided = consult(firing(approving()), approving(), None, 10.0, LINKS, "t")
    assert decided.ask == Request("inc", "p", "t", 10.0, 910.0)
    assert decided.transition is not None
    assert decided.transition.state.phase == st.Phase.AWAITING_APPROVAL
    assert decided.transition.escalate is not None
    assert decided.transition.escalate.links == LINKS
    assert (decided.wake, decided.act, decided.close) == (910.0, False, None)


def test_asked_before_a_restart_waits_quietly() -> None:
    """A request still open: wait again, audit nothing, ask nobody twice."""
    decided = consult(firing(approving()), approving(), request(), 10.0)
    assert decided.ask is None and decided.transition is None
    assert decided.state is not None and decided.state.phase == st.Phase.AWAITING_APPROVAL
    assert decided.wake == 900.0


def test_granted_while_away_acts() -> None:
    """A grant given while the agent was not watching: take it and act."""
    decided = consult(firing(approving()), approving(), request(decision=Decision.GRANTED), 10.0)
    assert decided.act and decided.state is not None and decided.state.approval == "granted"


def test_expired_while_away_pages_and_closes() -> None:
    """Expired while the agent was down: the expiry transition, then the request closes."""
    decided = consult(firing(approving()), approving(), request(), 901.0)
    assert decided.transition is not None
    assert [n.kind for n in decided.transition.notes] == [Kind.APPROVAL_EXPIRED]
    assert decided.close == Decision.EXPIRED and not decided.act


def test_denied_stops_asking() -> None:
    """A refused request: the target keeps the answer and nothing more is done."""
    decided = consult(firing(approving()), approving(), request(decision=Decision.DENIED), 10.0)
    assert decided == Consulted(state=replace(firing(approving()), approval="denied"))


def test_an_answer_reaches_only_the_waiting_incident() -> None:
    """An answer changes a target only while it waits for that incident's answer."""
    waiting = consult(firing(approving()), approving(), None, 10.0).transition
    assert waiting is not None
    assert answered(waiting.state, "other", True, 20.0) is None
    assert answered(firing(approving()), "inc", True, 20.0) is None
    granted = answered(waiting.state, "inc", True, 20.0)
    assert granted is not None and granted.approval == "granted"


def test_a_failed_run_is_audited_once_per_error() -> None:
    """The first failure with an error is audited; the same error again only counts."""
    policy = make_policy()
    first = sight.failed(None, ph.ProbeHealth(), policy, "refused", "error")
    assert [(n.kind, n.outcome) for n in first.notes] == [(Kind.PROBE_FAILED, "error")]
    assert first.health is not None and first.health.health.failures == 1
    again = sight.failed("refused", first.health.health, policy, "refused", "error")
    assert again.notes == () and again.last_error == "refused"


def test_a_healthy_run_decides_nothing() -> None:
    """A good run of a healthy probe that selected what it selected before: no decision."""
    assert sight.measured(None, sight.HEALTHY, False, False) is None


def test_recovery_audits_and_clears_the_health() -> None:
    """The first good run after a failure: probe.recovered, the health cleared."""
    seen = sight.measured("refused", ph.ProbeHealth(failures=2), False, False)
    assert seen is not None and seen.last_error is None
    assert [n.kind for n in seen.notes] == [Kind.PROBE_RECOVERED]
    assert seen.health is not None and seen.health.health == ph.ProbeHealth()


def test_an_empty_selection_is_audited_when_it_starts() -> None:
    """Selecting nothing is audited after the health change, once, when it starts."""
    seen = sight.measured(None, sight.HEALTHY, False, True)
    assert seen is not None and seen.then == (sight.EMPTY_NOTE,) and seen.empty is True
    still = sight.measured(None, sight.HEALTHY, True, True)
    assert still is None
