"""Approvals: ask once per incident, act only on a yes, escalate when nobody answers."""

from __future__ import annotations

import pytest

from kit.policies import make_policy
from kit.runner import (
    T0,
    Kit,
    kit_fixture,  # noqa: F401 -- registers the `kit` fixture
    record_steps,
    settle,
)
from medic.audit.events import Kind
from medic.engine.core import state as st
from medic.engine.core.approvals import (
    ApprovalBook,
    Decision,
    Next,
    Request,
    next_step,
)
from medic.engine.human_input import HumanInput
from medic.errors import ApprovalNotFound, NotWaiting
from medic.policy.model import Approval, Escalation, Limits

HIGH = {"value": 95}
LOW = {"value": 10}


def approving(**kw: object) -> object:
    return make_policy(
        name="db-failover",
        remediate=record_steps(),
        approval=Approval(timeout=900),
        escalate=Escalation(notify=("oncall",)),
        **kw,  # type: ignore[arg-type]
    )


def firing(policy: object) -> st.TargetState:
    return st.observe(st.TargetState(), policy, HIGH, 0.0, incident_id="inc").state  # type: ignore[arg-type]


# -- the pure part ---------------------------------------------------------------------


def test_asking_waits_notes_and_escalates_with_links() -> None:
    """The request is audited, sent (approval_required, with links) and the target waits."""
    policy = approving()
    links = (("Approve (POST)", "http://m/approve"), ("Deny (POST)", "http://m/deny"))
    tr = st.await_approval(firing(policy), policy, 10.0, 910.0, links=links)  # type: ignore[arg-type]
    assert tr.state.phase == st.Phase.AWAITING_APPROVAL
    assert tr.state.label() == "awaiting_approval"
    assert [n.kind for n in tr.notes] == [Kind.APPROVAL_REQUESTED]
    assert tr.notes[0].details == {
        "timeout": "15m",
        "expires": "1970-01-01T00:15:10.000000Z",
        "notify": ["oncall"],
    }
    assert tr.escalate is not None
    assert tr.escalate.reason == "approval_required"
    assert tr.escalate.links == links
    assert tr.escalate.summary == (
        "db-failover wants to act and needs approval within 15m: "
        "`medic approve inc` or `medic deny inc`"
    )


def test_waiting_target_expires_at_the_timeout_and_pages() -> None:
    """No answer by the timeout: approval.expired, approval_timeout, and no action ever."""
    policy = approving()
    waiting = st.await_approval(firing(policy), policy, 10.0, 910.0).state  # type: ignore[arg-type]
    assert st.observe(waiting, policy, HIGH, 909.0).state.phase == st.Phase.AWAITING_APPROVAL  # type: ignore[arg-type]
    tr = st.observe(waiting, policy, HIGH, 910.0)  # type: ignore[arg-type]
    assert [n.kind for n in tr.notes] == [Kind.APPROVAL_EXPIRED]
    assert tr.escalate is not None and tr.escalate.reason == "approval_timeout"
    assert tr.state.phase == st.Phase.FIRING and tr.state.approval == "expired"
    later = st.observe(tr.state, policy, HIGH, 1000.0)  # type: ignore[arg-type]
    assert not later.wants_action and later.escalate is None


def test_clear_while_waiting_closes_the_incident_and_resolves_the_ask() -> None:
    """If the problem goes away while waiting, the incident clears and the ask is resolved."""
    policy = approving()
    waiting = st.await_approval(firing(policy), policy, 10.0, 910.0).state  # type: ignore[arg-type]
    tr = st.observe(waiting, policy, LOW, 20.0)  # type: ignore[arg-type]
    assert tr.state.phase == st.Phase.OK and tr.state.incident is None
    assert [n.kind for n in tr.notes] == [Kind.CLEARED]
    assert tr.notes[0].details == {"reason": "condition cleared while awaiting approval"}
    assert tr.escalate is not None and tr.escalate.resolve


def test_denied_target_never_wants_action_again() -> None:
    """After a no, the incident stays firing (shown as denied) and is never acted on."""
    policy = approving()
    waiting = st.await_approval(firing(policy), policy, 10.0, 910.0).state  # type: ignore[arg-type]
    denied = st.answer(waiting, False, 20.0)
    assert denied.label() == "denied"
    tr = st.observe(denied, policy, HIGH, 30.0)  # type: ignore[arg-type]
    assert not tr.wants_action and tr.escalate is None
    granted = st.answer(waiting, True, 20.0)
    assert st.observe(granted, policy, HIGH, 30.0).wants_action  # type: ignore[arg-type]


def test_next_step_for_each_kind_of_request() -> None:
    """Ask when nothing was asked; wait, act, expire or stop as the request says."""
    req = Request("i", "p", "t", requested=0.0, expires=100.0)
    assert next_step(None, 0.0) == Next.ASK
    assert next_step(req, 50.0) == Next.WAIT
    assert next_step(req, 100.0) == Next.EXPIRE
    book = ApprovalBook()
    book.ask(req)
    assert next_step(book.decide("i", True, "alice", None, 50.0), 60.0) == Next.ACT
    for decision in (Decision.DENIED, Decision.EXPIRED, Decision.CLOSED):
        assert next_step(Request("i", "p", "t", 0.0, 100.0, decision), 10.0) == Next.STOP


def test_book_refuses_answers_nobody_waits_for() -> None:
    """Unknown incident: not found. Answered, expired or closed: not waiting, saying why."""
    book = ApprovalBook()
    with pytest.raises(ApprovalNotFound):
        book.decide("nope", True, "alice", None, 0.0)
    book.ask(Request("i", "p", "t", requested=0.0, expires=100.0))
    book.decide("i", False, "bob", "not now", 10.0)
    with pytest.raises(NotWaiting) as info:
        book.decide("i", True, "alice", None, 20.0)
    assert str(info.value) == "incident i is no longer waiting: it was already denied by bob"
    book.ask(Request("j", "p", "t", requested=0.0, expires=100.0))
    with pytest.raises(NotWaiting) as info:
        book.decide("j", True, "alice", None, 100.0)
    assert str(info.value) == (
        "incident j is no longer waiting: the request expired at 1970-01-01T00:01:40.000000Z"
    )


# -- the runner ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_approved_action_runs_and_the_answer_is_audited_with_who(kit: Kit) -> None:
    """Ask -> nothing runs -> approve -> the action runs; the grant names who gave it."""
    policy = approving()
    runner = kit.runner(policy)  # type: ignore[arg-type]
    runner.probe.readings = {"db-1": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    await settle(runner)
    state = runner.states["db-1"]
    assert state.phase == st.Phase.AWAITING_APPROVAL
    assert kit.escalator.reasons() == ["approval_required"]
    call = kit.escalator.calls[0]
    assert call["notify"] == ("oncall",)
    base = f"http://medic.example:9325/api/v1/incidents/{state.incident}"
    assert call["request"].links == (
        ("Approve (POST)", f"{base}/approve"),
        ("Deny (POST)", f"{base}/deny"),
    )
    kit.clock.advance(10)
    await runner.evaluate()  # still waiting: nothing runs, nothing is asked twice
    assert "action.started" not in kit.kinds()
    humans = HumanInput(kit.engine, lambda: {"db-failover": runner})
    assert state.incident is not None
    answer = await humans.answer(state.incident, True, "alice@ops", "go")
    await settle(runner)
    assert answer["decision"] == "granted" and answer["by"] == "alice@ops"
    (granted,) = kit.of("approval.granted")
    assert granted.details == {"by": "alice@ops", "comment": "go"}
    kinds = kit.kinds("db-1")
    assert kinds.index("approval.granted") < kinds.index("action.started")
    assert "action.succeeded" in kinds
    assert kit.escalator.reasons() == ["approval_required"]


@pytest.mark.asyncio
async def test_limits_are_checked_again_when_the_answer_comes(kit: Kit) -> None:
    """Approved while limits now refuse: the suppression is audited, nothing runs."""
    policy = approving(limits=Limits(max=1, per=3600, cooldown=0))
    runner = kit.runner(policy)  # type: ignore[arg-type]
    runner.probe.readings = {"db-1": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    incident = runner.states["db-1"].incident
    assert incident is not None
    kit.engine.ledger.record("db-failover", "db-1", kit.clock.wall(), dry=False)  # used up
    await HumanInput(kit.engine, lambda: {"db-failover": runner}).answer(
        incident, True, "alice", None
    )
    await settle(runner)
    assert [e.outcome for e in kit.of("action.suppressed")] == ["rate_limit"]
    assert "action.started" not in kit.kinds()


@pytest.mark.asyncio
async def test_no_answer_expires_escalates_and_a_late_answer_is_refused(kit: Kit) -> None:
    """Past the timeout: approval.expired, an approval_timeout page, and a late approve
    is refused as no longer waiting (the table keeps the request)."""
    policy = approving()
    runner = kit.runner(policy)  # type: ignore[arg-type]
    runner.probe.readings = {"db-1": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    incident = runner.states["db-1"].incident
    assert incident is not None
    kit.clock.advance(901)
    await runner.evaluate()
    await settle(runner)
    assert [e.kind for e in kit.of("approval.expired")] == [Kind.APPROVAL_EXPIRED]
    assert kit.escalator.reasons() == ["approval_required", "approval_timeout"]
    humans = HumanInput(kit.engine, lambda: {"db-failover": runner})
    with pytest.raises(NotWaiting) as info:
        await humans.answer(incident, True, "alice", None)
    assert str(info.value).startswith(
        f"incident {incident} is no longer waiting: the request expired"
    )
    assert "action.started" not in kit.kinds()


@pytest.mark.asyncio
async def test_clear_while_waiting_closes_the_request(kit: Kit) -> None:
    """The problem goes away while waiting: incident.cleared, a resolve to the asked, and a
    later approve answers that the incident no longer waits."""
    policy = approving()
    runner = kit.runner(policy)  # type: ignore[arg-type]
    runner.probe.readings = {"db-1": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    incident = runner.states["db-1"].incident
    assert incident is not None
    kit.clock.advance(10)
    runner.probe.readings = {"db-1": LOW}  # type: ignore[attr-defined]
    await runner.evaluate()
    await settle(runner)
    assert kit.of("incident.cleared")[0].incident == incident
    assert kit.escalator.reasons() == ["approval_required", "resolve:cleared"]
    with pytest.raises(NotWaiting) as info:
        await HumanInput(kit.engine, dict).answer(incident, True, "alice", None)
    assert str(info.value) == f"incident {incident} is no longer waiting: the incident ended"


@pytest.mark.asyncio
async def test_pending_request_survives_a_restart_and_its_expiry_holds(kit: Kit) -> None:
    """A new runner (a restart) reloads the request: it waits without asking twice, and
    expires at the original time."""
    policy = approving()
    runner = kit.runner(policy)  # type: ignore[arg-type]
    runner.probe.readings = {"db-1": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    await settle(runner)
    incident = runner.states["db-1"].incident
    assert incident is not None
    # The restart: open incidents and the approvals table are read back.
    kit.engine.approvals = ApprovalBook()
    kit.engine.inherited_incidents = {("db-failover", "db-1"): incident}
    await kit.engine.audit.flush()
    await HumanInput(kit.engine, dict).load()
    loaded = kit.engine.approvals.get(incident)
    assert loaded is not None and loaded.expires == T0 + 900
    again = kit.runner(policy)  # type: ignore[arg-type]
    again.probe.readings = {"db-1": HIGH}  # type: ignore[attr-defined]
    kit.clock.advance(100)
    await again.evaluate()
    assert again.states["db-1"].phase == st.Phase.AWAITING_APPROVAL
    assert again.states["db-1"].approval_expires == T0 + 900
    assert kit.escalator.reasons() == ["approval_required"]  # not asked twice
    kit.clock.advance(800)
    await again.evaluate()
    await settle(again)
    assert kit.escalator.reasons() == ["approval_required", "approval_timeout"]
