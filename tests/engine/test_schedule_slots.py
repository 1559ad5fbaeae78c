"""Shared slot timers: policies due together share one loop timer, and run once each."""

from __future__ import annotations

import asyncio

import pytest

from medic.engine.schedule import SLOT, Schedule, slot_of, slots
from medic.metrics import Metrics
from medic.probes.base import Measurement, Probe


class _Quiet(Probe):
    fields = ()

    async def measure(self) -> Measurement:
        return {}


def _schedule(runs: list[str], name: str, every: float) -> Schedule:
    async def evaluate() -> None:
        runs.append(name)

    return Schedule(name, every, _Quiet({}), Metrics(), evaluate)


def test_slot_of_stays_on_a_boundary_despite_float_sums() -> None:
    """A due time a float hair over a slot boundary keeps that slot, not the next."""
    t = slot_of(1000.123) * SLOT
    assert slot_of(t + 0.1 + 0.2 - 0.3) == slot_of(t)
    assert slot_of(t + SLOT / 2) == slot_of(t) + 1


@pytest.mark.asyncio
async def test_policies_due_in_one_slot_share_one_timer() -> None:
    """Fifty policies with the same interval keep far fewer loop timers than fifty."""
    runs: list[str] = []
    schedules = [_schedule(runs, f"p{i}", 0.05) for i in range(50)]
    for s in schedules:
        s.start()
    await asyncio.sleep(0)
    timers = slots(asyncio.get_running_loop())
    assert sum(len(v) for v in timers.due.values()) == 50
    assert len(timers.due) <= 0.05 / SLOT + 1
    await asyncio.sleep(0.3)
    for s in schedules:
        await s.stop()
    assert set(runs) == {f"p{i}" for i in range(50)}


@pytest.mark.asyncio
async def test_a_trigger_does_not_double_the_next_scheduled_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Woken early, a policy still runs once at its slot, not once per wake-up."""
    monkeypatch.setattr("medic.engine.schedule.random.uniform", lambda a, b: b)  # first run in 2s
    runs: list[str] = []
    s = _schedule(runs, "p", 10.0)
    s.start()
    await asyncio.sleep(0)
    for _ in range(3):
        s.trigger()
        await asyncio.sleep(0.01)
    assert runs == ["p"] * 3
    timers = slots(asyncio.get_running_loop())
    assert sum(v.count(s) for v in timers.due.values()) == 1
    await s.stop()
    for slot in list(timers.due):  # a timer that fires after the stop finds nothing to do
        timers._fire(slot)
    await asyncio.sleep(0.01)
    assert runs == ["p"] * 3


@pytest.mark.asyncio
async def test_a_slot_that_fires_during_a_triggered_run_gives_one_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A trigger during a run, then the slot falling due while the triggered run
    works: the policy runs once for that slot, not twice, and keeps its interval."""
    monkeypatch.setattr("medic.engine.schedule.random.uniform", lambda a, b: a)  # due now
    loop = asyncio.get_running_loop()
    times: list[float] = []
    # The first run is triggered again; the second spans the slot; the third awaits.
    pauses = [0.02, 0.12, 0.001]

    async def evaluate() -> None:
        times.append(loop.time())
        if len(times) == 1:
            s.trigger()
        if pauses:
            await asyncio.sleep(pauses.pop(0))

    s = Schedule("p", 0.1, _Quiet({}), Metrics(), evaluate)
    s.start()
    await asyncio.sleep(0.19)
    await s.stop()
    assert len(times) == 3  # scheduled, triggered, scheduled (late); the next is at 0.2
