"""Stopping the agent: always prompt, never lost, and nothing probed or acted on after.

The agents here are real (real audit store, real runners and schedules); the policies
are built in memory so that fifty start/stop cycles of 5,000 policies fit in a test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from kit.policies import make_policy
from medic.actions.base import Action, ActionContext, ActionResult, actions
from medic.config import AgentConfig, ApiConfig
from medic.engine.agent import Agent
from medic.engine.runner import PolicyRunner
from medic.policy.model import Limits, ProbeSpec, Step
from medic.probes.base import Measurement, Probe, probes

POLICIES = 5000
CYCLES = 50
STOP_BUDGET = 2.0


class Clock:
    """When the agent began to stop, and every probe run or action after it."""

    stop_began: ClassVar[float] = float("inf")
    late: ClassVar[list[str]] = []

    @classmethod
    def note(cls, what: str) -> None:
        if time.monotonic() > cls.stop_began:
            cls.late.append(what)


class LoopProbe(Probe):
    """A cheap probe read on the loop; always reads value 1."""

    runs_on_loop = True
    dynamic_fields = True

    def read(self) -> Measurement:
        Clock.note("read")
        return {"t": {"value": 1}}

    async def measure(self) -> Measurement:
        return self.read()


class AwaitingProbe(Probe):
    """A probe that waits a moment (so stops land mid-measurement); value 1."""

    dynamic_fields = True

    async def measure(self) -> Measurement:
        Clock.note("measure")
        await asyncio.sleep(0.001)
        return {"t": {"value": 1}}


class SlowAction(Action):
    """An action that records its start and takes a moment."""

    async def run(self, ctx: ActionContext) -> ActionResult:
        Clock.note("act")
        await asyncio.sleep(0.05)
        return ActionResult(ok=True, summary="done")


@pytest.fixture(name="registered")
def registered_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test probes and action in the registries, and a fresh stop clock."""
    for name, cls in (("test.loop", LoopProbe), ("test.awaiting", AwaitingProbe)):
        monkeypatch.setitem(probes._items, name, cls)
        monkeypatch.setattr(cls, "type_name", name, raising=False)
    monkeypatch.setitem(actions._items, "test.slow", SlowAction)
    monkeypatch.setattr(SlowAction, "type_name", "test.slow", raising=False)
    monkeypatch.setattr(Clock, "stop_began", float("inf"))
    monkeypatch.setattr(Clock, "late", [])
    yield


def busy_policies() -> list[Any]:
    """5,000 policies every 0.2 s: most quiet, one in ten firing and acting."""
    quiet = make_policy(when="value > 5", remediate=(Step("test.slow", {}, 5.0),))
    firing = make_policy(
        when="value > 0",
        remediate=(Step("test.slow", {}, 5.0),),
        limits=Limits(max=1000, per=60.0, cooldown=0.0),
        verify_after=0.05,
    )
    out = []
    for i in range(POLICIES):
        base = firing if i % 10 == 0 else quiet
        kind = "test.awaiting" if i % 5 == 1 else "test.loop"
        out.append(replace(base, name=f"p{i}", probe=ProbeSpec(kind, {}, every=0.2, timeout=5.0)))
    return out


async def started_agent(tmp_path: Path, policies: list[Any]) -> Agent:
    config = AgentConfig(
        host="stop-test",
        state_dir=tmp_path,
        policy_paths=(),
        watch=False,
        api=ApiConfig(enabled=False),
    )
    agent = Agent(config)
    await agent.start()
    for policy in policies:
        runner = PolicyRunner(policy, agent.engine)
        agent.runners[policy.name] = runner
        runner.start()
    return agent


@pytest.mark.asyncio
async def test_stop_under_load_is_prompt_every_time(registered: None, tmp_path: Path) -> None:
    """At 5,000 busy policies, stop takes <= 2 s in each of 50 runs; nothing runs after."""
    policies = busy_policies()
    slowest = 0.0
    for cycle in range(CYCLES):
        agent = await started_agent(tmp_path / f"c{cycle}", policies)
        await asyncio.sleep(0.25)  # every policy has come due at least once
        Clock.stop_began = time.monotonic()
        try:
            async with asyncio.timeout(10 * STOP_BUDGET):
                await agent.stop()
        except TimeoutError:
            pytest.fail(f"stop hung in cycle {cycle}")
        took = time.monotonic() - Clock.stop_began
        slowest = max(slowest, took)
        Clock.stop_began = float("inf")
        assert took <= STOP_BUDGET, f"cycle {cycle}: stop took {took:.2f}s"
        assert Clock.late == [], f"cycle {cycle}: ran after stop began: {Clock.late[:5]}"
    print(f"slowest stop: {slowest * 1000:.0f} ms")


class HandedProbe(Probe):
    """A probe whose measurement finishes when the test says."""

    dynamic_fields = True
    result: ClassVar[asyncio.Future[Measurement] | None] = None

    async def measure(self) -> Measurement:
        assert HandedProbe.result is not None
        return await HandedProbe.result


@pytest.mark.asyncio
async def test_stop_arriving_as_the_probe_finishes_is_not_lost(
    registered: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop whose cancellation lands as the probe returns still ends the runner."""
    monkeypatch.setitem(probes._items, "test.handed", HandedProbe)
    monkeypatch.setattr(HandedProbe, "type_name", "test.handed", raising=False)
    loop = asyncio.get_running_loop()
    HandedProbe.result = loop.create_future()
    policy = replace(make_policy(), probe=ProbeSpec("test.handed", {}, every=60.0, timeout=5.0))
    agent = await started_agent(tmp_path, [policy])
    runner = agent.runners[policy.name]
    runner.trigger()
    for _ in range(5):  # the runner is now awaiting the probe
        await asyncio.sleep(0)
    # The probe's answer and the stop's cancellation come in the same turn of the loop.
    loop.call_soon(HandedProbe.result.set_result, {"t": {"value": 1}})
    stopping = asyncio.ensure_future(runner.stop())
    done, _ = await asyncio.wait({stopping}, timeout=STOP_BUDGET)
    assert stopping in done, "the runner's stop hung: the cancellation was swallowed"
    await agent.stop()


def test_no_wait_for_in_the_daemon() -> None:
    """No module awaits with asyncio.wait_for, which can swallow a stop's cancellation."""
    daemon = Path(__file__).resolve().parents[2] / "daemon" / "medic"
    users = [
        str(path.relative_to(daemon))
        for path in sorted(daemon.rglob("*.py"))
        if "asyncio.wait_for(" in path.read_text(encoding="utf-8")
    ]
    assert users == [], f"use medic.deadline.within instead of asyncio.wait_for in {users}"
