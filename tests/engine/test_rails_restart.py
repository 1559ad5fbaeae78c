"""Every rail holds across a restart: an agent started on the audit log of a previous
run (that died without stopping) rebuilds the breaker, the limits and the cooldowns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from kit.policies import make_policy
from kit.runner import T0, RecordAction, open_kit, record_steps, settle
from medic.audit.events import Kind, Reason
from medic.clock import FakeClock
from medic.config import AgentConfig, ApiConfig, BreakerConfig, GlobalLimits
from medic.engine.agent import Agent
from medic.engine.core.limits import check_rate
from medic.policy.model import Limits

HIGH = {"value": 99}
BREAKER = BreakerConfig(max_actions=2, per=60.0, reset_after=600.0)


def config(root: Path) -> AgentConfig:
    (root / "policies").mkdir(exist_ok=True)
    return AgentConfig(
        host="h",
        state_dir=root / "state",
        policy_paths=(root / "policies",),
        api=ApiConfig(enabled=False),
        watch=False,
        limits=GlobalLimits(breaker=BREAKER),
    )


async def first_run(root: Path, monkeypatch: pytest.MonkeyPatch, targets: list[str]) -> None:
    """A first agent acts on ``targets`` at T0 (tripping the breaker on the third), then
    dies: its store is closed, nothing else of a clean stop happens."""
    async with open_kit(root / "state" / "audit.db", monkeypatch) as kit:
        kit.engine.limits = GlobalLimits(breaker=BREAKER)
        kit.engine.breaker.config = BREAKER  # type: ignore[union-attr]
        runner = kit.runner(make_policy(remediate=record_steps(), limits=Limits(max=3, per=3600)))
        runner.probe.readings = {t: HIGH for t in targets}  # type: ignore[attr-defined]
        await runner.evaluate()
        await settle(runner)
        await kit.engine.audit.flush()


@pytest_asyncio.fixture
async def restarted(
    tmp_path: Path,
) -> AsyncIterator[Callable[[float], Agent]]:
    """Make the agent of the restart, at a wall time; each is stopped at teardown."""
    agents: list[Agent] = []

    def make(at: float) -> Agent:
        agent = Agent(config(tmp_path), clock=FakeClock(at))
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        await agent.stop()


@pytest.mark.asyncio
async def test_open_breaker_stays_open_after_a_restart_until_reset_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restarted: Callable[[float], Agent]
) -> None:
    """Opened at T0 with reset_after 10m: restarted 70 s later (the rate window long
    past) the breaker still refuses; only at T0 + 10m does it close."""
    await first_run(tmp_path, monkeypatch, ["a", "b", "c"])
    assert RecordAction.runs == ["a", "b"]
    agent = restarted(T0 + 70)
    await agent.start()
    breaker = agent.engine.breaker
    assert breaker is not None and breaker.opened_at == pytest.approx(T0)
    verdict, note = breaker.check(agent.engine.ledger, T0 + 70)
    assert (verdict.allowed, verdict.reason, note) == (False, Reason.CIRCUIT_BREAKER, None)
    verdict, note = breaker.check(agent.engine.ledger, T0 + 599)
    assert not verdict.allowed
    verdict, note = breaker.check(agent.engine.ledger, T0 + 600)
    assert verdict.allowed and note is not None and note.kind == Kind.BREAKER_CLOSED


@pytest.mark.asyncio
async def test_a_closed_breaker_is_not_reopened_by_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restarted: Callable[[float], Agent]
) -> None:
    """Only an opened breaker with no close after it is open again after a restart."""
    await first_run(tmp_path, monkeypatch, ["a"])
    agent = restarted(T0 + 5)
    await agent.start()
    assert agent.engine.breaker is not None and not agent.engine.breaker.is_open


@pytest.mark.asyncio
async def test_rate_limit_and_cooldown_hold_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restarted: Callable[[float], Agent]
) -> None:
    """Attempts made before the crash still count: the cooldown and max hold after it."""
    await first_run(tmp_path, monkeypatch, ["a"])
    agent = restarted(T0 + 70)
    await agent.start()
    ledger = agent.engine.ledger
    cooling = Limits(max=5, per=3600, cooldown=300)
    verdict = check_rate(cooling, ledger, "p", "a", dry=False, now=T0 + 70)
    assert verdict.reason == Reason.COOLDOWN
    used_up = Limits(max=1, per=3600, cooldown=0)
    verdict = check_rate(used_up, ledger, "p", "a", dry=False, now=T0 + 70)
    assert verdict.reason == Reason.RATE_LIMIT
    assert check_rate(cooling, ledger, "p", "a", dry=False, now=T0 + 300).allowed
