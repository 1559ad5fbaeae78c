"""A real agent's recording is whole when it stops: the open runs of steady targets are
written on the way out (:meth:`medic.engine.samples.SampleKeeper.close_runs`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest

from kit.policies import make_policy
from medic.audit import samples as table
from medic.config import AgentConfig, ApiConfig
from medic.engine.agent import Agent
from medic.engine.runner import PolicyRunner
from medic.policy.model import ProbeSpec
from medic.probes.base import Measurement, Probe, probes


class SteadyProbe(Probe):
    """Read on the loop, always the same value; counts its reads."""

    runs_on_loop = True
    dynamic_fields = True
    reads: ClassVar[int] = 0

    def read(self) -> Measurement:
        SteadyProbe.reads += 1
        return {"t": {"value": 1}}

    async def measure(self) -> Measurement:
        return self.read()


@pytest.fixture(name="registered")
def registered_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(probes._items, "test.steady", SteadyProbe)
    monkeypatch.setattr(SteadyProbe, "type_name", "test.steady", raising=False)
    monkeypatch.setattr(SteadyProbe, "reads", 0)
    yield


@pytest.mark.asyncio
async def test_every_measurement_is_in_the_recording_after_a_stop(
    registered: None, tmp_path: Path
) -> None:
    """A steady target's run, still open at the stop, is written before the store closes."""
    config = AgentConfig(
        host="runs", state_dir=tmp_path, policy_paths=(), watch=False, api=ApiConfig(enabled=False)
    )
    agent = Agent(config)
    await agent.start()
    policy = replace(make_policy(when="value > 5"), probe=ProbeSpec("test.steady", {}, 0.2, 5.0))
    runner = PolicyRunner(policy, agent.engine)
    agent.runners[policy.name] = runner
    runner.start()
    await asyncio.sleep(2.1)
    await agent.stop()
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        rows = table.recorded_rows(conn, policy.name, 0.0, 4e9)
    assert sum(row.measured for row in rows) == SteadyProbe.reads >= 8
    assert any(row.measured > 1 for row in rows)  # a run was open at the stop
