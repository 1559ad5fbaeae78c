"""Cron schedules in a time zone: when a maintenance window opens, when a job is due.

The dialect is crontab(5)'s five fields, ``minute hour day-of-month month
day-of-week``: ``*``, numbers, ranges ``1-5``, steps ``*/15`` and ``10-50/20``, lists
``1,15``, names for months (``JAN``-``DEC``) and days (``SUN``-``SAT``; 0 and 7 are
Sunday), and the macros ``@hourly``, ``@daily`` (``@midnight``), ``@weekly``,
``@monthly`` and ``@yearly`` (``@annually``). When both day fields are restricted a
day matches if either does, as cron does.

Times are wall-clock times in the window's zone, DST-correct: a start that falls in the
hour skipped in spring begins when the clock jumps (02:30 on the night Europe/Berlin
goes from 02:00 to 03:00 begins at 03:00 CEST); a start in the hour repeated in autumn
begins at its first occurrence only. Everything here is pure over the time it is given.
We keep our own small matcher rather than a dependency: it is a few dozen lines, its
DST rule is ours to state and test, and its errors name the field that is wrong.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # zoneinfo loads with the first window or schedule that names a zone
    from zoneinfo import ZoneInfo

from medic.bounds import ascii_int

CRON_HINT = "five fields: minute hour day-of-month month day-of-week, like '0 2 * * SUN'"
ZONE_HINT = "an IANA time zone name like Europe/Berlin, America/New_York or UTC"
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}


class CronError(ValueError):
    """A cron expression or time zone that cannot be used; the message names the field."""


@dataclass(frozen=True)
class _Spec:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


_FIELDS = (
    _Spec("minute", 0, 59),
    _Spec("hour", 0, 23),
    _Spec("day of month", 1, 31),
    _Spec("month", 1, 12, _MONTHS),
    _Spec("day of week", 0, 7, _DAYS),
)


def _value(token: str, spec: _Spec) -> int:
    number = ascii_int(token)
    if number is not None:
        if not spec.low <= number <= spec.high:
            raise CronError(f"{spec.name} {number} is out of range {spec.low}-{spec.high}")
        return number
    if spec.names is not None and token.upper() in spec.names:
        return spec.names[token.upper()]
    named = f" or a name ({', '.join(spec.names)})" if spec.names else ""
    raise CronError(f"{spec.name} {token!r} is not a number from {spec.low}-{spec.high}{named}")


def _parse_field(text: str, spec: _Spec) -> tuple[int, ...]:
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            given = ascii_int(step_text)
            if given is None or given < 1:
                raise CronError(f"{spec.name} step {step_text!r} must be a whole number above 0")
            step = given
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _value(first, spec), _value(last, spec)
            if low > high:
                raise CronError(f"{spec.name} range {base!r} goes backwards")
        elif base:
            low = _value(base, spec)
            high = spec.high if slash else low
        else:
            raise CronError(f"{spec.name} {text!r} has an empty item")
        values.update(range(low, high + 1, step))
    if spec.name == "day of week" and 7 in values:
        values = (values - {7}) | {0}
    return tuple(sorted(values))


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression: the minutes, hours, days, months and weekdays it fires."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 is Sunday
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        """The schedule for ``text``; raises :class:`CronError` naming the bad field."""
        expanded = text.strip()
        if expanded.startswith("@"):
            if expanded.lower() not in MACROS:
                raise CronError(f"unknown macro {expanded!r}; valid macros: {', '.join(MACROS)}")
            expanded = MACROS[expanded.lower()]
        parts = expanded.split()
        if len(parts) != 5:
            raise CronError(f"expected 5 fields, got {len(parts)}")
        minutes, hours, days, months, weekdays = (
            _parse_field(part, spec) for part, spec in zip(parts, _FIELDS, strict=True)
        )
        schedule = cls(
            text,
            minutes,
            hours,
            days,
            months,
            weekdays,
            any_day=parts[2].startswith("*"),
            any_weekday=parts[4].startswith("*"),
        )
        if schedule.any_weekday and not any(
            day <= _longest(month) for month in schedule.months for day in schedule.days
        ):
            raise CronError("day of month never occurs in the months given")
        return schedule

    def matches_day(self, day: date) -> bool:
        """Whether windows start on this local date (day-of-month OR day-of-week)."""
        if day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_weekday = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return by_weekday
        if self.any_weekday:
            return by_date
        return by_date or by_weekday

    def latest_start(self, now: float, zone: ZoneInfo, within: float) -> float | None:
        """The latest start at or before ``now`` and after ``now - within``, if any."""
        today = datetime.fromtimestamp(now, zone).date()
        earliest = now - within
        for back in range(int(within // 86400) + 3):
            day = today - timedelta(days=back)
            if self.matches_day(day):
                for hour in reversed(self.hours):
                    for minute in reversed(self.minutes):
                        start = local_instant(day, hour, minute, zone)
                        if start <= now:
                            return start if start > earliest else None
            if local_instant(day, 0, 0, zone) <= earliest:
                return None
        return None

    def next_start(self, after: float, zone: ZoneInfo, horizon_days: int = 1500) -> float | None:
        """The first start strictly after ``after`` within ``horizon_days``, if any."""
        first = datetime.fromtimestamp(after, zone).date()
        for ahead in range(horizon_days + 1):
            day = first + timedelta(days=ahead)
            if not self.matches_day(day):
                continue
            for hour in self.hours:
                for minute in self.minutes:
                    start = local_instant(day, hour, minute, zone)
                    if start > after:
                        return start
        return None


def _longest(month: int) -> int:
    return 29 if month == 2 else calendar.monthrange(2001, month)[1]


def local_instant(day: date, hour: int, minute: int, zone: ZoneInfo) -> float:
    """Epoch seconds of a local wall-clock time: its first occurrence when the clock
    repeats it, and the moment the clock jumps when it skips it."""
    naive = datetime(day.year, day.month, day.day, hour, minute)
    instant = naive.replace(tzinfo=zone).timestamp()
    if datetime.fromtimestamp(instant, zone).replace(tzinfo=None) == naive:
        return instant
    # In the gap: find the transition, the first second whose local time is past it.
    low = min(instant, naive.replace(tzinfo=zone, fold=1).timestamp())
    high = max(instant, naive.replace(tzinfo=zone, fold=1).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) > naive:
            high = middle
        else:
            low = middle
    return high


@functools.cache
def _zone_names() -> dict[str, str]:
    from zoneinfo import available_timezones

    return {name.lower(): name for name in available_timezones()}


@functools.cache
def zone(name: str) -> ZoneInfo:
    """The time zone called ``name``; raises :class:`CronError` with a did-you-mean."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    names = _zone_names()
    guess = names.get(name.lower())
    if guess is None:
        import difflib  # here: only a mistake needs a guess

        close = difflib.get_close_matches(name.lower(), list(names), n=1, cutoff=0.6)
        guess = names[close[0]] if close else None
    suggestion = f"; did you mean {guess!r}?" if guess else ""
    raise CronError(f"unknown time zone {name!r}{suggestion}")
