"""When a human is paged: a cooldown is a wait, `after_failures` counts attempts that ran.

The README's first policy and the shipped ``xai-node-down`` run here as live
policies (their own YAML, their own timings) on the real runner with a fake clock; only
the probe and the step are swapped for ones the test drives.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from kit.policies import make_policy
from kit.runner import (
    Kit,
    ValueProbe,
    kit_fixture,  # noqa: F401 -- registers the `kit` fixture
    record_steps,
    settle,
)
from medic.audit.events import Kind, Reason
from medic.engine.core import state as st
from medic.engine.reload import swap_runners
from medic.engine.runner import PolicyRunner
from medic.policy.loader import load_paths, load_text
from medic.policy.model import Escalation, Limits, Policy, ProbeSpec

ROOT = Path(__file__).resolve().parents[2]


def readme_policy() -> Policy:
    """The policy of the README's "A first policy in five minutes", as its YAML says."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None, "README.md lost its policy example"
    result = load_text(block.group(1), "README.md")
    assert not result.errors, result.errors
    return result.policies[0]


def shipped_policy(name: str) -> Policy:
    loaded = load_paths([ROOT / "policies"])
    return next(p for p in loaded.policies if p.name == name)


def driven(policy: Policy) -> Policy:
    """``policy`` with a probe and a step the test drives; every timing kept."""
    probe = ProbeSpec(type="test.value", options={}, every=policy.probe.every, timeout=5.0)
    return replace(policy, probe=probe, remediate=record_steps(len(policy.remediate)))


async def step(kit: Kit, runner: PolicyRunner, seconds: float) -> None:
    """Let ``seconds`` of fake time pass, then measure as the schedule would."""
    kit.clock.advance(seconds)
    await runner.evaluate()
    await settle(runner)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("source", "down"),
    [("README", {"running": False}), ("xai-node-down", {"active_state": "failed"})],
)
async def test_a_failed_attempt_in_cooldown_waits_instead_of_paging(
    kit: Kit, source: str, down: dict[str, object]
) -> None:
    """The runbook example pages after two failed attempts, not 15 s after the first."""
    original = readme_policy() if source == "README" else shipped_policy(source)
    assert original.escalate.after_failures == 2
    assert original.limits.cooldown > original.verify.after
    runner = kit.runner(driven(original))
    probe = runner.probe
    assert isinstance(probe, ValueProbe)
    probe.readings = {"worker": dict(down)}
    await step(kit, runner, 0)  # fires, attempt 1
    await step(kit, runner, original.verify.after + 1)  # not healed: cooldown defers
    assert kit.escalator.reasons() == []
    assert [e.details["reason"] for e in kit.of("action.deferred")] == ["cooldown"]
    assert not kit.of("action.suppressed")
    await step(kit, runner, original.limits.cooldown)  # cooldown over: attempt 2
    assert len([e for e in kit.of("action.started") if e.details["step"] == 0]) == 2
    assert kit.escalator.reasons() == []
    await step(kit, runner, original.verify.after + 1)  # attempt 2 not healed
    assert kit.escalator.reasons() == ["remediation_failed"]


@pytest.mark.asyncio
async def test_the_cooldown_end_wakes_the_runner(kit: Kit) -> None:
    """A deferred attempt is retried when the cooldown ends, not at the next interval."""
    policy = make_policy(
        when="value > 90",
        verify_after=5,
        limits=Limits(max=5, per=3600, cooldown=60),
        remediate=record_steps(),
    )
    runner = kit.runner(policy)
    probe = runner.probe
    assert isinstance(probe, ValueProbe)
    probe.readings = {"t": {"value": 95}}
    await step(kit, runner, 0)
    await step(kit, runner, 6)
    wake = runner._wake
    assert wake is not None
    remaining = wake[0] - kit.clock.wall()
    assert 53.9 <= remaining <= 54.1


@pytest.mark.asyncio
async def test_a_full_concurrency_cap_waits_for_a_free_slot(kit: Kit) -> None:
    """The host-wide cap defers the attempt; the end of a remediation wakes the runner."""
    policy = make_policy(when="value > 90", remediate=record_steps())
    runner = kit.runner(policy)
    probe = runner.probe
    assert isinstance(probe, ValueProbe)
    probe.readings = {"t": {"value": 95}}
    kit.engine.running_actions = kit.engine.limits.max_concurrent_actions
    await step(kit, runner, 0)
    assert [e.details["reason"] for e in kit.of("action.deferred")] == ["concurrency"]
    assert kit.escalator.reasons() == []
    assert runner.trigger in kit.engine.waiting
    kit.engine.running_actions = 0
    kit.engine.slot_freed()
    assert not kit.engine.waiting
    await step(kit, runner, 0)
    assert len(kit.of("action.started")) == 1


@pytest.mark.asyncio
async def test_an_exhausted_rate_limit_pages_once(kit: Kit) -> None:
    """Out of attempts is a refusal: audited as suppressed and paged once per incident."""
    policy = make_policy(
        when="value > 90",
        verify_after=5,
        limits=Limits(max=1, per=3600, cooldown=0),
        escalate=Escalation(after_failures=3, notify=("oncall",)),
        remediate=record_steps(),
    )
    runner = kit.runner(policy)
    probe = runner.probe
    assert isinstance(probe, ValueProbe)
    probe.readings = {"t": {"value": 95}}
    await step(kit, runner, 0)
    for _ in range(3):
        await step(kit, runner, 70)
    assert kit.escalator.reasons() == ["suppressed:rate_limit"]
    assert {e.details["reason"] for e in kit.of("action.suppressed")} == {"rate_limit"}


@pytest.mark.parametrize("reason", sorted(st.WAITS))
def test_waits_are_deferred_and_never_page(reason: Reason) -> None:
    """Each wait is audited as action.deferred with no escalation."""
    policy = make_policy()
    firing = st.TargetState(phase=st.Phase.FIRING, incident="i1")
    tr = st.suppress(firing, policy, reason.value, 1.0, {})
    assert [n.kind for n in tr.notes] == [Kind.DEFERRED]
    assert tr.escalate is None and not tr.state.escalated


@pytest.mark.asyncio
async def test_loading_a_policy_with_an_early_page_audits_a_warning(kit: Kit) -> None:
    """The agent writes `policy.warning` for a policy whose rate limit pages first."""
    policy = make_policy(
        name="early",
        limits=Limits(max=1, per=3600, cooldown=60),
        escalate=Escalation(after_failures=2, notify=("oncall",)),
        remediate=record_steps(),
    )
    runners: dict[str, PolicyRunner] = {}
    await swap_runners(runners, {"early": policy}, kit.engine, kit.clock.wall())
    try:
        await kit.engine.drain_writes()
        [warning] = kit.of("policy.warning")
        assert warning.outcome == "escalation"
        assert "after 1 failed attempt(s)" in warning.details["warning"]
    finally:
        await runners["early"].stop()


def test_a_heal_nobody_was_paged_about_sends_a_notice_only_when_asked() -> None:
    """notify_healed: a resolve-style notice to those channels; without it, nothing."""
    quiet = make_policy(when="value > 90")
    told = make_policy(when="value > 90", escalate=Escalation(notify_healed=("chat",)))
    verifying = st.TargetState(
        phase=st.Phase.VERIFYING, incident="i1", attempts=1, verify_at=10.0, since=0.0
    )
    assert st.observe(verifying, quiet, {"value": 10}, 11.0).escalate is None
    notice = st.observe(verifying, told, {"value": 10}, 11.0).escalate
    assert notice is not None and notice.resolve and notice.notify == ("chat",)
    assert notice.summary == "healed by remediation after 1 attempt(s); nobody was paged"
