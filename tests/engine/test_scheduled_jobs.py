"""A scheduled job through the engine: fires when due, acts once, heals once it ran."""

from __future__ import annotations

import textwrap

import pytest

from kit.runner import T0, Kit, RecordAction, kit_fixture, settle  # noqa: F401  (the kit fixture)
from medic.engine.runner import PolicyRunner
from medic.policy.loader import load_text
from medic.probes.services.schedule import ScheduleProbe


def job(kit: Kit, step: str = "test.record: {}") -> PolicyRunner:
    text = textwrap.dedent(
        f"""\
        version: 1
        policies:
          - name: backup-verify
            probe: {{type: schedule, interval: 1h, job: backup}}
            when: due
            remediate:
              - {step}
            verify: {{after: 10s}}
            limits: {{max: 2, per: 1d, cooldown: 1h}}
        """
    )
    result = load_text(text, "jobs.yaml")
    assert result.errors == (), [str(e) for e in result.errors]
    r = kit.runner(result.policies[0])
    assert isinstance(r.probe, ScheduleProbe)
    r.probe.now = kit.clock.wall
    return r


@pytest.mark.asyncio
async def test_a_due_job_runs_once_and_verification_sees_it_done(kit: Kit) -> None:
    """Due -> fired -> one run -> verify 10 s later: healed; the next poll does nothing."""
    kit.clock.advance(3600 - T0 % 3600 + 5)  # 5 s past an hour
    r = job(kit)
    await r.evaluate()
    await settle(r)
    assert RecordAction.runs == ["backup"]
    kit.clock.advance(11)
    await r.evaluate()
    await settle(r)
    kit.clock.advance(60)
    await r.evaluate()
    await settle(r)
    assert RecordAction.runs == ["backup"]
    assert "verify.healed" in kit.kinds("backup")


@pytest.mark.asyncio
async def test_a_job_the_limits_refuse_is_not_run_and_not_marked_done(kit: Kit) -> None:
    """With max 2 per day already used, the job is suppressed and stays due."""
    kit.clock.advance(3600 - T0 % 3600 + 5)
    r = job(kit)
    for _ in range(2):
        kit.engine.ledger.record("backup-verify", "backup", kit.clock.wall() - 7200, dry=False)
    await r.evaluate()
    await settle(r)
    assert RecordAction.runs == []
    assert "action.suppressed" in kit.kinds("backup")
    assert r.probe.reading(kit.clock.wall())["due"] is True  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_job_whose_step_failed_stays_due_and_is_not_healed(kit: Kit) -> None:
    """A failed run is not done: verification finds it still due (not healed)."""
    kit.clock.advance(3600 - T0 % 3600 + 5)
    r = job(kit, "command: {argv: [/bin/false]}")
    await r.evaluate()
    await settle(r)
    kit.clock.advance(11)
    await r.evaluate()
    await settle(r)
    assert "verify.not_healed" in kit.kinds("backup")
    assert "verify.healed" not in kit.kinds("backup")
