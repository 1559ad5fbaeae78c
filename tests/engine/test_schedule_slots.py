"""Shared slot timers: policies due together share one loop timer, and run once each;
policies with cheap probes are packed into few wake-ups."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from medic.engine.schedule import PACK, SLOT, Schedule, slot_of, slots
from medic.metrics import Metrics
from medic.probes.base import Measurement, Probe


class _Quiet(Probe):
    fields = ()

    async def measure(self) -> Measurement:
        return {}


class _Cheap(_Quiet):
    runs_on_loop = True


def _schedule(runs: list[str], name: str, every: float, *, cheap: bool = False) -> Schedule:
    async def evaluate() -> None:
        runs.append(name)

    probe = _Cheap({}) if cheap else _Quiet({})
    return Schedule(name, every, probe, Metrics(), evaluate)


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


@pytest.mark.asyncio
async def test_cheap_policies_share_few_wake_ups() -> None:
    """Fifty policies with cheap probes and one interval wake in ceil(50 / PACK) slots."""
    runs: list[str] = []
    schedules = [_schedule(runs, f"p{i}", 10.0, cheap=True) for i in range(50)]
    for s in schedules:
        s.start()
    await asyncio.sleep(0)
    timers = slots(asyncio.get_running_loop())
    assert sorted(len(v) for v in timers.due.values()) == [2, 16, 16, 16]
    assert len(timers.due) == math.ceil(50 / PACK)
    for s in schedules:
        await s.stop()


@pytest.mark.asyncio
async def test_policies_that_do_io_stay_spread() -> None:
    """Probes that are not cheap keep their own spread slots: a batch of them would
    queue in the thread pool and eat into their timeouts."""
    runs: list[str] = []
    schedules = [_schedule(runs, f"p{i}", 10.0) for i in range(50)]
    for s in schedules:
        s.start()
    await asyncio.sleep(0)
    assert len(slots(asyncio.get_running_loop()).due) > 25  # ~47 of 400 slots
    for s in schedules:
        await s.stop()


@pytest.mark.asyncio
async def test_cheap_policies_with_other_intervals_do_not_pack() -> None:
    """A policy joins only a slot that wakes one with its own interval (they would
    part after the first run otherwise)."""
    runs: list[str] = []
    schedules = [
        _schedule(runs, f"p{i}", every, cheap=True)
        for i, every in enumerate(random.sample([1.0, 1.5, 2.0, 2.5, 3.0], 5))
    ]
    for s in schedules:
        s.start()
    await asyncio.sleep(0)
    waiting = slots(asyncio.get_running_loop()).due.values()
    assert all(len({s.every for s in v}) == 1 for v in waiting)
    for s in schedules:
        await s.stop()


@pytest.mark.asyncio
async def test_a_policy_that_fell_behind_keeps_its_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run longer than two intervals skips the runs it missed and wakes with its
    group again, not at a new phase of its own."""
    monkeypatch.setattr("medic.engine.schedule.random.uniform", lambda a, b: 0.01)
    loop = asyncio.get_running_loop()
    slow_runs: list[float] = []

    async def slow() -> None:
        slow_runs.append(loop.time())
        if len(slow_runs) == 1:
            await asyncio.sleep(0.12)

    group = [_schedule([], f"p{i}", 0.05, cheap=True) for i in range(2)]
    late = Schedule("late", 0.05, _Cheap({}), Metrics(), slow)
    for s in (*group, late):
        s.start()
    await asyncio.sleep(0.14)  # the slow run ended at 0.13; all are due at 0.16
    timers = slots(loop)
    assert [v for v in timers.due.values() if late in v] == [[*group, late]]
    for s in (*group, late):
        await s.stop()
