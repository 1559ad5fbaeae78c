"""The schedule probe: due from each occurrence until the job ran or its window ended."""

from __future__ import annotations

import asyncio
import json
import stat
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from medic.engine.multiprobe import new_probe
from medic.policy.model import ProbeSpec
from medic.probes import probestate
from medic.probes.services.schedule import ScheduleProbe

# Every test keeps probe state in its own folder, as the agent does.
pytestmark = pytest.mark.usefixtures("state_root")

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    """Epoch seconds of a local wall-clock time (the first when the clock repeats it)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def probe(**options: object) -> ScheduleProbe:
    return ScheduleProbe({"timezone": "Europe/Berlin", **options})


def for_policy(name: str, **options: object) -> ScheduleProbe:
    """A schedule probe as the engine builds it for the policy ``name``."""
    made = new_probe(
        ProbeSpec("schedule", {"timezone": "Europe/Berlin", **options}, 60.0, 10.0), name
    )
    assert isinstance(made, ScheduleProbe)
    return made


def test_the_occurrence_that_ran_is_not_due_again_after_a_restart(state_root: Path) -> None:
    """Ran at 03:01; a new probe (the restarted agent) at 03:20 finds it done, 0600 on disk."""
    before = for_policy("vacuum", cron="0 3 * * *")
    assert before.reading(at("2026-06-07T03:00:30"))["due"] is True
    before.acted("job", at("2026-06-07T03:01"))
    after = for_policy("vacuum", cron="0 3 * * *")
    assert after.reading(at("2026-06-07T03:20"))["due"] is False
    assert after.reading(at("2026-06-08T03:00"))["due"] is True  # the next one runs
    (kept,) = state_root.iterdir()
    assert json.loads(kept.read_text()) == {
        "done": at("2026-06-07T03:00"),
        "ran_at": at("2026-06-07T03:01"),
    }
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_a_run_that_failed_is_still_due_after_a_restart() -> None:
    """No acted() (the steps failed): the restarted agent finds the occurrence due."""
    before = for_policy("vacuum", cron="0 3 * * *")
    assert before.reading(at("2026-06-07T03:00:30"))["due"] is True
    assert for_policy("vacuum", cron="0 3 * * *").reading(at("2026-06-07T03:20"))["due"] is True


def test_two_policies_with_one_schedule_keep_their_own_runs() -> None:
    """Policy a ran at 03:01; policy b, same cron, did not: after a restart b is still due."""
    a = for_policy("a", cron="0 3 * * *")
    a.reading(at("2026-06-07T03:00:30"))
    a.acted("job", at("2026-06-07T03:01"))
    assert for_policy("b", cron="0 3 * * *").reading(at("2026-06-07T03:20"))["due"] is True
    assert for_policy("a", cron="0 3 * * *").reading(at("2026-06-07T03:20"))["due"] is False


def test_damaged_or_unwritable_state_costs_no_run(state_root: Path) -> None:
    """A damaged file counts as nothing ran; a folder that cannot be written still marks
    the run done in memory (logged), never failing the remediation that ran."""
    first = for_policy("vacuum", cron="0 3 * * *")
    first.reading(at("2026-06-07T03:00:30"))
    first.acted("job", at("2026-06-07T03:01"))
    (kept,) = state_root.iterdir()
    kept.write_text('{"done": "yesterday"')
    again = for_policy("vacuum", cron="0 3 * * *")
    assert again.reading(at("2026-06-07T03:20"))["due"] is True
    kept.unlink()
    state_root.rmdir()
    state_root.write_text("a file where the folder should be")
    again.acted("job", at("2026-06-07T03:21"))
    assert again.reading(at("2026-06-07T03:22"))["due"] is False


def test_medic_probe_and_test_keep_no_state(tmp_path: Path) -> None:
    """With no state folder (medic probe, medic test) a run is remembered in memory only."""
    probestate.set_root(None)
    first = for_policy("vacuum", cron="0 3 * * *")
    first.reading(at("2026-06-07T03:00:30"))
    first.acted("job", at("2026-06-07T03:01"))
    assert first.reading(at("2026-06-07T03:02"))["due"] is False
    assert for_policy("vacuum", cron="0 3 * * *").reading(at("2026-06-07T03:20"))["due"] is True
    assert list(tmp_path.rglob("*.json")) == []


def test_due_from_the_occurrence_until_the_job_ran() -> None:
    """Not due before 03:00; due at 03:00 and while nobody ran it; not due once it ran."""
    p = probe(cron="0 3 * * *")
    assert p.reading(at("2026-06-07T02:59"))["due"] is False
    reading = p.reading(at("2026-06-07T03:00:30"))
    assert reading["due"] is True and reading["late"] == 30.0
    p.acted("job", at("2026-06-07T03:01"))
    assert p.reading(at("2026-06-07T03:02"))["due"] is False
    assert p.reading(at("2026-06-08T03:00"))["due"] is True  # the next occurrence


def test_an_occurrence_nobody_ran_stops_being_due_when_its_window_ends() -> None:
    """With window 30m, 03:29 is still due, 03:30 is not (the job was missed)."""
    p = probe(cron="0 3 * * *", window="30m")
    assert p.reading(at("2026-06-07T03:29:59"))["due"] is True
    assert p.reading(at("2026-06-07T03:30"))["due"] is False


def test_a_missed_occurrence_runs_once_at_start_inside_its_window() -> None:
    """A fresh probe (an agent that just started) at 03:40 with a 1h window: due once."""
    p = probe(cron="0 3 * * *")
    assert p.reading(at("2026-06-07T03:40"))["due"] is True
    p.acted("job", at("2026-06-07T03:41"))
    assert p.reading(at("2026-06-07T03:45"))["due"] is False
    assert probe(cron="0 3 * * *").reading(at("2026-06-07T04:10"))["due"] is False


def test_a_time_the_spring_clock_skips_falls_due_when_the_clock_jumps() -> None:
    """02:30 does not exist on 2026-03-29 in Berlin: the job is due from 03:00 CEST."""
    p = probe(cron="30 2 * * *")
    jump = at("2026-03-29T03:00")
    assert p.reading(jump - 1)["due"] is False
    reading = p.reading(jump + 60)
    assert reading["due"] is True and reading["occurrence"] == jump


def test_a_time_the_autumn_clock_repeats_is_due_once() -> None:
    """02:30 happens twice on 2026-10-25 in Berlin: the job runs at the first only."""
    p = probe(cron="30 2 * * *")
    first = at("2026-10-25T02:30")
    assert p.reading(first + 1)["due"] is True
    p.acted("job", first + 5)
    second = first + 3600  # the same wall-clock time, an hour later
    assert p.reading(second + 1)["due"] is False


def test_interval_occurrences_fall_on_multiples_since_the_epoch() -> None:
    """interval 10m: due at :10 and :20 (each until it ran), next is the following one."""
    p = ScheduleProbe({"interval": "10m"})
    base = 1_800_000_000.0 - 1_800_000_000.0 % 600
    reading = p.reading(base + 5)
    assert reading["due"] is True and reading["occurrence"] == base
    assert reading["next"] == base + 600
    p.acted("job", base + 6)
    assert p.reading(base + 599)["due"] is False
    assert p.reading(base + 600)["due"] is True


def test_validate_wants_one_of_cron_and_interval_and_a_real_zone() -> None:
    """Both or neither of cron/interval, and a misspelt zone, are named with the fix."""
    assert ScheduleProbe.validate({}) == ["give either cron: or interval:, one of them"]
    assert ScheduleProbe.validate({"cron": "@daily", "interval": "1m"}) == [
        "give either cron: or interval:, one of them"
    ]
    assert ScheduleProbe.validate({"cron": "0 3 * *", "timezone": "Europe/Berln"}) == [
        "bad cron expression '0 3 * *': expected 5 fields, got 4 (five fields: minute hour "
        "day-of-month month day-of-week, like '0 2 * * SUN')",
        "unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'? (an IANA time zone "
        "name like Europe/Berlin, America/New_York or UTC)",
    ]


@pytest.mark.asyncio
async def test_watch_wakes_the_runner_at_the_occurrence() -> None:
    """watch() yields the job right after the next occurrence, not at the next poll."""
    loop = asyncio.get_running_loop()
    p = ScheduleProbe({"interval": "1h"})
    occurrence = 1_800_000_000.0 - 1_800_000_000.0 % 3600 + 3600
    p.now = lambda: occurrence - 0.2 + (loop.time() - started)
    started = loop.time()
    stream = p.watch()
    target = await asyncio.wait_for(anext(stream), 2.0)
    assert target == "job"
    assert 0.2 <= loop.time() - started < 1.0
    await stream.aclose()  # type: ignore[attr-defined]
