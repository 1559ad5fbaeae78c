"""How a runner measures: cheap probes on the loop, the fields a policy reads, quiet runs."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from typing import Any, ClassVar

import pytest

from kit.policies import make_policy
from kit.runner import Kit, kit_fixture, settle  # noqa: F401 - the kit fixture
from medic.engine.probing import fields_read
from medic.policy.model import ProbeSpec, Step
from medic.probes.base import SLOW_READS, Measurement, Probe, probes


class OnLoopProbe(Probe):
    """A cheap probe recording the thread of each read; ``delay`` makes reads slow."""

    runs_on_loop = True
    dynamic_fields = True
    delay: ClassVar[float] = 0.0
    threads: ClassVar[list[str]] = []

    def read(self) -> Measurement:
        OnLoopProbe.threads.append(threading.current_thread().name)
        time.sleep(OnLoopProbe.delay)  # stands in for a filesystem that stopped answering
        return {"t": {"value": 1}}

    async def measure(self) -> Measurement:
        return await asyncio.to_thread(self.read)


@pytest.fixture(name="on_loop")
def on_loop_fixture(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A runner over OnLoopProbe."""
    monkeypatch.setitem(probes._items, "test.onloop", OnLoopProbe)
    monkeypatch.setattr(OnLoopProbe, "type_name", "test.onloop", raising=False)
    monkeypatch.setattr(OnLoopProbe, "threads", [])
    monkeypatch.setattr(OnLoopProbe, "delay", 0.0)
    policy = replace(make_policy(), probe=ProbeSpec("test.onloop", {}, every=10.0, timeout=0.05))
    return kit.runner(policy)


@pytest.mark.asyncio
async def test_cheap_probe_is_read_on_the_loop(on_loop: Any) -> None:
    """A probe that runs_on_loop is read in the loop's own thread, never a worker."""
    for _ in range(3):
        assert await on_loop.measure() == {"t": {"value": 1}}
    assert OnLoopProbe.threads == [threading.current_thread().name] * 3


@pytest.mark.asyncio
async def test_slow_reads_move_the_probe_to_a_thread(on_loop: Any) -> None:
    """Reads that keep overrunning the loop budget move the probe to a worker thread."""
    OnLoopProbe.delay = 0.02
    for _ in range(SLOW_READS + 1):
        await on_loop.measure()
    loop_thread = threading.current_thread().name
    assert OnLoopProbe.threads[:SLOW_READS] == [loop_thread] * SLOW_READS
    assert OnLoopProbe.threads[SLOW_READS] != loop_thread


@pytest.mark.asyncio
async def test_read_past_the_timeout_is_a_timeout(on_loop: Any, kit: Kit) -> None:
    """A read on the loop that overran the probe's timeout is audited as a timeout."""
    OnLoopProbe.delay = 0.06
    assert await on_loop.measure() is None
    await settle(on_loop)
    assert [e.outcome for e in kit.of("probe.failed")] == ["timeout"]
    assert on_loop.probing.on_loop is False


@pytest.mark.asyncio
async def test_quiet_evaluations_write_nothing(on_loop: Any, kit: Kit) -> None:
    """Evaluations that change nothing write no audit event at all."""
    for _ in range(20):
        await on_loop.evaluate()
    await settle(on_loop)
    assert kit.events == []


@pytest.mark.asyncio
async def test_nothing_is_measured_once_the_agent_stops(on_loop: Any, kit: Kit) -> None:
    """Once the agent is stopping, a measurement returns None without reading."""
    kit.engine.stopping = True
    assert await on_loop.measure() is None
    assert OnLoopProbe.threads == []


def test_fields_read_by_a_policy() -> None:
    """The fields a policy reads: its conditions' names and its steps' placeholders."""
    policy = make_policy(
        when="health == 'unhealthy' or labels.tier == 'web'",
        clear_when="health == 'healthy'",
        remediate=(Step("command", {"argv": ["kick", "{pids}", "{target}"]}, 5.0),),
    )
    assert fields_read(policy) == {"health", "labels", "pids", "target"}


@pytest.mark.asyncio
async def test_runner_tells_the_probe_what_the_policy_reads(on_loop: Any) -> None:
    """A runner's probe learns the fields its policy reads."""
    assert on_loop.probe.used == {"value"}
