"""Maintenance windows: the cron matcher, time zones and DST, with plain numbers for time."""

from __future__ import annotations

from datetime import datetime

import pytest

from medic.policy.windows import CronError, CronSchedule, MaintenanceWindow, zone

BERLIN = zone("Europe/Berlin")


def at(text: str, tz: str = "Europe/Berlin") -> float:
    """Epoch seconds of a local wall-clock time (first occurrence when repeated)."""
    return datetime.fromisoformat(text).replace(tzinfo=zone(tz)).timestamp()


def local(ts: float, tz: str = "Europe/Berlin") -> str:
    return datetime.fromtimestamp(ts, zone(tz)).isoformat()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 25 * * *", "hour 25 is out of range 0-23"),
        ("* * *", "expected 5 fields, got 3"),
        ("61 * * * *", "minute 61 is out of range 0-59"),
        ("0 2 32 * *", "day of month 32 is out of range 1-31"),
        ("0 2 * 13 *", "month 13 is out of range 1-12"),
        (
            "0 2 * * SUNN",
            "day of week 'SUNN' is not a number from 0-7 or a name "
            "(SUN, MON, TUE, WED, THU, FRI, SAT)",
        ),
        ("*/0 * * * *", "minute step '0' must be a whole number above 0"),
        ("5-1 * * * *", "minute range '5-1' goes backwards"),
        ("\u00b2 * * * *", "minute '\u00b2' is not a number from 0-59"),
        ("*/\u00b2 * * * *", "minute step '\u00b2' must be a whole number above 0"),
        (
            "*/" + "9" * 5000 + " * * * *",
            f"minute step '{'9' * 5000}' must be a whole number above 0",
        ),
        ("0,,5 * * * *", "minute '0,,5' has an empty item"),
        ("0 0 31 2 *", "day of month never occurs in the months given"),
        (
            "@weekl",
            "unknown macro '@weekl'; valid macros: @yearly, @annually, @monthly, @weekly, "
            "@daily, @midnight, @hourly",
        ),
    ],
)
def test_bad_cron_names_the_field(text: str, message: str) -> None:
    """Each mistake in a cron expression is reported naming the field that is wrong."""
    with pytest.raises(CronError) as info:
        CronSchedule.parse(text)
    assert str(info.value) == message


def test_fields_names_steps_and_lists() -> None:
    """Names, ranges, steps and lists expand to the values cron would use; 7 is Sunday."""
    s = CronSchedule.parse("*/20 1-3,22 * JAN-MAR sat,7")
    assert s.minutes == (0, 20, 40)
    assert s.hours == (1, 2, 3, 22)
    assert s.months == (1, 2, 3)
    assert s.weekdays == (0, 6)
    assert CronSchedule.parse("@weekly").weekdays == (0,)


def test_day_fields_match_either_when_both_are_restricted() -> None:
    """With day-of-month and day-of-week both set, a day matches if either does."""
    s = CronSchedule.parse("0 0 13 * FRI")
    assert s.matches_day(datetime(2024, 5, 13).date())  # a Monday the 13th
    assert s.matches_day(datetime(2024, 5, 17).date())  # a Friday
    assert not s.matches_day(datetime(2024, 5, 14).date())


def test_weekly_window_is_open_for_its_duration_only() -> None:
    """'0 2 * * SUN' for 2h is open from 02:00 to 04:00 Berlin time on Sundays only."""
    w = MaintenanceWindow(CronSchedule.parse("0 2 * * SUN"), 7200, "Europe/Berlin")
    assert w.current(at("2024-05-05T01:59:59")) is None
    assert w.current(at("2024-05-05T02:00:00")) == (at("2024-05-05T02:00"), at("2024-05-05T04:00"))
    assert w.current(at("2024-05-05T03:59:59")) is not None
    assert w.current(at("2024-05-05T04:00:00")) is None
    assert w.current(at("2024-05-06T02:30:00")) is None  # Monday
    assert w.upcoming(at("2024-05-05T05:00")) == at("2024-05-12T02:00")


def test_window_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    """On the spring DST night (02:00 -> 03:00 in Berlin) a 02:30 window opens at 03:00 CEST."""
    w = MaintenanceWindow(CronSchedule.parse("30 2 * * *"), 3600, "Europe/Berlin")
    jump = at("2024-03-31T03:00:00")  # the first second after the gap
    assert local(jump) == "2024-03-31T03:00:00+02:00"
    assert w.current(jump - 1) is None
    assert w.current(jump) == (jump, jump + 3600)
    assert w.upcoming(at("2024-03-30T12:00")) == jump
    # The next night is an ordinary one again.
    assert w.upcoming(jump + 10) == at("2024-04-01T02:30")


def test_window_in_the_repeated_hour_opens_once() -> None:
    """On the autumn night 02:30 happens twice; the window opens at the first one only."""
    w = MaintenanceWindow(CronSchedule.parse("30 2 * * *"), 1800, "Europe/Berlin")
    first = at("2024-10-27T02:30:00")
    assert local(first) == "2024-10-27T02:30:00+02:00"
    assert w.current(first + 60) == (first, first + 1800)
    second = first + 3600  # 02:30 CET, an hour later
    assert w.current(second + 60) is None


def test_window_longer_than_a_day_and_one_crossing_midnight() -> None:
    """A 23:00 window of 3h is still open at 01:00 the next day; a 3-day one on day 2."""
    late = MaintenanceWindow(CronSchedule.parse("0 23 * * *"), 3 * 3600, "UTC")
    assert late.current(at("2024-05-02T01:00", "UTC")) == (
        at("2024-05-01T23:00", "UTC"),
        at("2024-05-02T02:00", "UTC"),
    )
    long = MaintenanceWindow(CronSchedule.parse("0 0 1 * *"), 3 * 86400, "UTC")
    assert long.current(at("2024-05-02T12:00", "UTC")) is not None
    assert long.current(at("2024-05-04T00:00", "UTC")) is None


def test_unknown_time_zone_suggests_the_close_one() -> None:
    """A misspelt zone gets a did-you-mean from the IANA names; a wild one just says so."""
    with pytest.raises(CronError) as info:
        zone("Europe/Berlinn")
    assert str(info.value) == "unknown time zone 'Europe/Berlinn'; did you mean 'Europe/Berlin'?"
    with pytest.raises(CronError) as info:
        zone("Mars/Olympus_Mons")
    assert str(info.value) == "unknown time zone 'Mars/Olympus_Mons'"
