"""The plan an action step records: neutral text, the event's kind says whether it ran."""

from __future__ import annotations

import pytest

from kit.policies import make_policy
from kit.runner import (
    Kit,
    kit_fixture,  # noqa: F401 -- registers the `kit` fixture
    settle,
)
from medic.policy.model import Step

HIGH = {"value": 99}
STEP = (Step("command", {"argv": ["true", "worker one"]}, 10.0),)


@pytest.mark.asyncio
async def test_a_real_run_records_its_plan_without_would(kit: Kit) -> None:
    """action.started carries the command itself (true 'worker one'), never "would run"."""
    runner = kit.runner(make_policy(remediate=STEP))
    runner.probe.readings = {"web": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    await settle(runner)
    (started,) = kit.of("action.started")
    assert started.details["plan"] == "true 'worker one'"
    (succeeded,) = kit.of("action.succeeded")
    assert succeeded.details["plan"] == "true 'worker one'"


@pytest.mark.asyncio
async def test_a_dry_run_records_the_same_plan_under_would_run(kit: Kit) -> None:
    """In dry-run the kind is action.would_run and the plan is the same neutral text."""
    runner = kit.runner(make_policy(remediate=STEP, dry_run=True))
    runner.probe.readings = {"web": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    await settle(runner)
    assert kit.of("action.started") == []
    (would,) = kit.of("action.would_run")
    assert would.details["plan"] == "true 'worker one'"
