"""The schedule probe: due from each occurrence until the job ran or its window ended."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from medic.probes.schedule import ScheduleProbe

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    """Epoch seconds of a local wall-clock time (the first when the clock repeats it)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def probe(**options: object) -> ScheduleProbe:
    return ScheduleProbe({"timezone": "Europe/Berlin", **options})


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
