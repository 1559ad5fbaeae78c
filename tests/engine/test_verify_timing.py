"""A verification counts only a measurement that began once the verification was due."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from kit.policies import make_policy
from kit.runner import (
    Kit,
    ValueProbe,
    kit_fixture,  # noqa: F401 -- registers the `kit` fixture
    record_steps,
    settle,
)
from medic.engine.core.state import Phase
from medic.engine.runner import PolicyRunner
from medic.probes.base import Measurement


class SlowProbe(ValueProbe):
    """Takes ``duration`` seconds of the fake clock to measure."""

    clock: Any = None
    duration = 0.0

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)

    async def measure(self) -> Measurement:
        self.clock.advance(self.duration)
        return await super().measure()


@pytest.mark.asyncio
async def test_a_measurement_started_before_verify_at_does_not_verify(kit: Kit) -> None:
    """Started 2 s early and finished 3 s late, a reading is not the verification."""
    policy = replace(make_policy(when="value > 90", verify_after=30), remediate=record_steps())
    probe = SlowProbe({})
    probe.clock = kit.clock
    runner = PolicyRunner(policy, kit.engine, probe=probe)
    probe.readings = {"t": {"value": 95}}
    await runner.evaluate()
    await settle(runner)
    verifying = runner.states["t"]
    assert verifying.phase == Phase.VERIFYING and verifying.verify_at is not None
    probe.readings = {"t": {"value": 10}}
    kit.clock.advance(verifying.verify_at - kit.clock.wall() - 2)
    probe.duration = 5
    await runner.evaluate()
    assert runner.states["t"].phase == Phase.VERIFYING
    probe.duration = 0
    await runner.evaluate()
    assert runner.states["t"].phase == Phase.OK
    assert kit.kinds("t")[-1] == "verify.healed"
