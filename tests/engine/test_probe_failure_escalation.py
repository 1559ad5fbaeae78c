"""A probe that keeps failing means Medic cannot see: after N failures a human is told."""

from __future__ import annotations

import pytest

from kit.policies import make_policy
from kit.runner import (
    Kit,
    kit_fixture,  # noqa: F401 -- registers the `kit` fixture
    settle,
)
from medic.audit.events import Kind
from medic.engine.core import probehealth as ph
from medic.engine.core.silences import Matchers, Silence
from medic.policy.model import Escalation


def test_escalates_once_at_the_threshold_with_its_own_incident() -> None:
    """Failures 1 and 2 count; the 3rd opens an incident and escalates; later ones don't."""
    policy = make_policy(name="db", escalate=Escalation(on_probe_failure=3))
    health = ph.ProbeHealth()
    for _ in range(2):
        change = ph.failed(health, policy, "refused")
        assert change.escalate is None and change.notes == ()
        health = change.health
    change = ph.failed(health, policy, "refused", incident_id="inc")
    assert change.health == ph.ProbeHealth(failures=3, incident="inc", escalated=True)
    assert [n.kind for n in change.notes] == [Kind.DETECTED]
    assert change.escalate is not None
    assert change.escalate.reason == "probe_failing"
    assert change.escalate.summary == (
        "db: the probe failed 3 times in a row (refused); Medic cannot see this, a human must look"
    )
    again = ph.failed(change.health, policy, "refused")
    assert again.escalate is None and again.health.failures == 4


def test_recovery_clears_the_incident_and_resolves() -> None:
    """A good measurement after an escalation: incident.cleared and a resolve; before the
    threshold it just resets the count."""
    change = ph.recovered(ph.ProbeHealth(failures=5, incident="inc", escalated=True))
    assert change.health == ph.ProbeHealth()
    assert [(n.kind, n.outcome) for n in change.notes] == [(Kind.CLEARED, "cleared")]
    assert change.escalate is not None and change.escalate.resolve
    quiet = ph.recovered(ph.ProbeHealth(failures=2))
    assert quiet == ph.HealthChange(ph.ProbeHealth())


def test_zero_disables_it() -> None:
    """escalate.on_probe_failure: 0 never escalates, however long the probe fails."""
    policy = make_policy(escalate=Escalation(on_probe_failure=0))
    health = ph.ProbeHealth()
    for _ in range(50):
        change = ph.failed(health, policy, "boom")
        assert change.escalate is None
        health = change.health


def test_silence_holds_it_back_once_per_silence() -> None:
    """Under a silence the escalation is marked silenced once; repeats are dropped and
    the health is not marked escalated, so it pages after the silence."""
    policy = make_policy(escalate=Escalation(on_probe_failure=1))
    old = ph.ProbeHealth()
    hushed = ph.hush(old, ph.failed(old, policy, "x", incident_id="i"), "s1")
    assert hushed.escalate is not None and hushed.escalate.silenced_by == "s1"
    assert not hushed.health.escalated
    repeat = ph.hush(hushed.health, ph.failed(hushed.health, policy, "x"), "s1")
    assert repeat.escalate is None
    after = ph.failed(repeat.health, policy, "x")
    assert after.escalate is not None and after.escalate.silenced_by is None
    assert after.notes == ()  # the incident is already open


@pytest.mark.asyncio
async def test_runner_escalates_probe_failing_and_resolves_on_recovery(kit: Kit) -> None:
    """Three failed measurements: an incident for (probe), escalated once; the probe
    measures again: incident.cleared and a resolve."""
    policy = make_policy(name="db-conns", escalate=Escalation(on_probe_failure=3))
    runner = kit.runner(policy)
    runner.probe.error = "connection refused"  # type: ignore[attr-defined]
    for _ in range(5):
        await runner.evaluate()
        kit.clock.advance(10)
    assert kit.escalator.reasons() == ["probe_failing"]
    call = kit.escalator.calls[0]
    assert call["target"] == "(probe)"
    incident = call["incident"]
    assert [e.kind for e in kit.events if e.incident == incident] == [
        Kind.DETECTED,
    ]
    assert kit.kinds().count("probe.failed") == 1  # the same error is audited once
    runner.probe.error = None  # type: ignore[attr-defined]
    await runner.evaluate()
    await settle(runner)
    assert kit.escalator.reasons() == ["probe_failing", "resolve:probe_recovered"]
    cleared = kit.of("incident.cleared")
    assert [(e.target, e.incident) for e in cleared] == [("(probe)", incident)]
    assert runner.snapshot()["probe_failures"] == 0


@pytest.mark.asyncio
async def test_silenced_probe_failure_is_audited_not_sent(kit: Kit) -> None:
    """A silence on the policy covers its probe's escalation too."""
    now = kit.clock.wall()
    kit.engine.silences.add(
        Silence("s1", now, now + 600, "alice", "db migration", Matchers(policy="db-*"))
    )
    runner = kit.runner(make_policy(name="db-conns", escalate=Escalation(on_probe_failure=2)))
    runner.probe.error = "refused"  # type: ignore[attr-defined]
    for _ in range(4):
        await runner.evaluate()
    assert kit.escalator.calls == []
    assert [(e.outcome, e.details["reason"]) for e in kit.of("incident.escalated")] == [
        ("silenced", "probe_failing")
    ]
