"""The engine's decisions, driven with plain numbers for time (no clock, no sleeping)."""

from __future__ import annotations

from dataclasses import replace

from kit.policies import make_policy
from medic.audit.events import Kind
from medic.engine.core.state import (
    SUPPRESSION_REPEAT,
    Phase,
    TargetState,
    admit,
    finish,
    observe,
    suppress,
    vanish,
)
from medic.policy.model import Escalation

HIGH = {"value": 95}
LOW = {"value": 10}


def kinds(tr: object) -> list[Kind]:
    return [n.kind for n in tr.notes]  # type: ignore[attr-defined]


def test_quiet_target_stays_ok() -> None:
    """A condition that does not hold changes nothing and writes nothing."""
    tr = observe(TargetState(), make_policy(), LOW, 0.0)
    assert tr.state.phase == Phase.OK
    assert tr.notes == ()
    assert not tr.wants_action


def test_no_hold_fires_at_once_and_wants_action() -> None:
    """Without `for:` a true condition is detected and fired in one step."""
    tr = observe(TargetState(), make_policy(), HIGH, 0.0, incident_id="i1")
    assert tr.state.phase == Phase.FIRING
    assert tr.state.incident == "i1"
    assert kinds(tr) == [Kind.DETECTED, Kind.FIRED]
    assert tr.wants_action


def test_hold_waits_before_firing() -> None:
    """With `for: 120` the target is pending until the condition held 120 s."""
    policy = make_policy(hold=120)
    tr = observe(TargetState(), policy, HIGH, 0.0)
    assert tr.state.phase == Phase.PENDING
    assert kinds(tr) == [Kind.DETECTED, Kind.PENDING]
    tr = observe(tr.state, policy, HIGH, 119.0)
    assert tr.state.phase == Phase.PENDING and not tr.wants_action
    tr = observe(tr.state, policy, HIGH, 120.0)
    assert tr.state.phase == Phase.FIRING
    assert kinds(tr) == [Kind.FIRED]
    assert tr.wants_action


def test_pending_that_clears_closes_the_incident() -> None:
    """A blip shorter than `for:` is recorded as cleared, never acted on."""
    policy = make_policy(hold=60)
    tr = observe(TargetState(), policy, HIGH, 0.0, incident_id="i1")
    tr = observe(tr.state, policy, LOW, 30.0)
    assert tr.state.phase == Phase.OK
    assert tr.state.incident is None
    assert kinds(tr) == [Kind.CLEARED]


def test_hysteresis_keeps_firing_between_thresholds() -> None:
    """With clear_when, a value between the two thresholds neither clears nor re-fires."""
    policy = make_policy(when="value > 90", clear_when="value < 80")
    tr = observe(TargetState(), policy, HIGH, 0.0)
    tr = observe(tr.state, policy, {"value": 85}, 10.0)
    assert tr.state.phase == Phase.FIRING
    tr = observe(tr.state, policy, {"value": 79}, 20.0)
    assert tr.state.phase == Phase.OK
    assert kinds(tr) == [Kind.CLEARED]


def test_remediating_target_ignores_measurements() -> None:
    """While steps run, new measurements do not move the target."""
    policy = make_policy()
    tr = observe(TargetState(), policy, HIGH, 0.0)
    busy = admit(tr.state, 1.0)
    assert busy.phase == Phase.REMEDIATING and busy.attempts == 1
    after = observe(busy, policy, LOW, 2.0)
    assert after.state.phase == Phase.REMEDIATING
    assert after.notes == ()


def test_verify_waits_for_its_time_then_heals() -> None:
    """Verification happens `verify.after` seconds after the steps, and heals when cleared."""
    policy = make_policy(verify_after=30)
    tr = observe(TargetState(), policy, HIGH, 0.0, incident_id="i1")
    verifying = finish(admit(tr.state, 0.0), policy, 5.0)
    assert verifying.phase == Phase.VERIFYING and verifying.verify_at == 35.0
    early = observe(verifying, policy, LOW, 20.0)
    assert early.state.phase == Phase.VERIFYING
    healed = observe(verifying, policy, LOW, 35.0)
    assert healed.state.phase == Phase.OK
    assert kinds(healed) == [Kind.VERIFY_HEALED]
    assert healed.escalate is None


def test_not_healed_counts_a_failure_and_escalates_once_at_the_threshold() -> None:
    """after_failures: 2 escalates on the second failed verify, and only then."""
    policy = make_policy(escalate=Escalation(notify=("oncall",), after_failures=2), verify_after=0)
    tr = observe(TargetState(), policy, HIGH, 0.0)
    tr = observe(finish(admit(tr.state, 0.0), policy, 1.0), policy, HIGH, 1.0)
    assert kinds(tr) == [Kind.VERIFY_NOT_HEALED]
    assert tr.state.phase == Phase.FIRING and tr.wants_action
    assert tr.escalate is None
    tr = observe(finish(admit(tr.state, 2.0), policy, 3.0), policy, HIGH, 3.0)
    assert tr.escalate is not None and tr.escalate.reason == "remediation_failed"
    assert tr.state.escalated
    tr = observe(finish(admit(tr.state, 4.0), policy, 5.0), policy, HIGH, 5.0)
    assert tr.escalate is None


def test_escalated_incident_that_heals_sends_a_resolve() -> None:
    """Healing after an escalation asks for a resolve to the same channels."""
    policy = make_policy(escalate=Escalation(after_failures=1), verify_after=0)
    tr = observe(TargetState(), policy, HIGH, 0.0)
    tr = observe(finish(admit(tr.state, 0.0), policy, 0.0), policy, HIGH, 0.0)
    assert tr.state.escalated
    tr = observe(finish(admit(tr.state, 1.0), policy, 1.0), policy, LOW, 1.0)
    assert tr.escalate is not None and tr.escalate.resolve


def test_suppression_is_audited_escalated_once_and_repeats_folded() -> None:
    """Repeated suppressions for one reason write one line a minute and escalate once."""
    policy = make_policy()
    firing = observe(TargetState(), policy, HIGH, 0.0).state
    first = suppress(firing, policy, "rate_limit", 1.0, {"max": 3})
    assert kinds(first) == [Kind.SUPPRESSED]
    assert first.notes[0].outcome == "rate_limit"
    assert first.escalate is not None
    again = suppress(first.state, policy, "rate_limit", 2.0, {})
    assert again.notes == () and again.escalate is None
    later = suppress(again.state, policy, "rate_limit", 1.0 + SUPPRESSION_REPEAT, {})
    assert kinds(later) == [Kind.SUPPRESSED]
    assert later.notes[0].details["repeats"] == 2


def test_dry_run_suppression_does_not_escalate() -> None:
    """Shadow mode never pages anyone."""
    policy = make_policy()
    firing = observe(TargetState(), policy, HIGH, 0.0).state
    assert suppress(firing, policy, "dry_run", 1.0, {}).escalate is None


def test_policy_without_remediation_escalates_once_and_resolves() -> None:
    """An escalate-only policy pages when it fires and resolves when it clears."""
    policy = make_policy(steps=0)
    tr = observe(TargetState(), policy, HIGH, 0.0)
    assert not tr.wants_action
    assert tr.escalate is not None and tr.escalate.reason == "no_remediation"
    tr2 = observe(tr.state, policy, HIGH, 10.0)
    assert tr2.escalate is None
    tr3 = observe(tr2.state, policy, LOW, 20.0)
    assert tr3.escalate is not None and tr3.escalate.resolve


def test_vanished_target_closes_its_incident() -> None:
    """A target that is no longer selected does not leave an incident open forever."""
    policy = make_policy()
    firing = observe(TargetState(), policy, HIGH, 0.0).state
    tr = vanish(firing, 5.0)
    assert tr.state.incident is None
    assert kinds(tr) == [Kind.CLEARED]
    assert tr.notes[0].details["reason"] == "target no longer selected"


def test_missing_field_does_not_fire() -> None:
    """A field the probe did not yield reads as null, and null comparisons are false."""
    tr = observe(TargetState(), make_policy(), {}, 0.0)
    assert tr.state.phase == Phase.OK


def test_with_values_is_replace_of_values() -> None:
    """The hot path's with_values gives the same state as dataclasses.replace."""
    state = TargetState(since=5.0, incident="i-1", failures=2, values={"a": 1})
    new = state.with_values({"a": 2})
    assert new == replace(state, values={"a": 2})
    assert state.values == {"a": 1}
