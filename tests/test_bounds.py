"""medic.bounds: times, durations, counts and text from outside, within sane bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from medic import bounds
from medic.bounds import OutOfBounds

NOW = 1_714_521_600.0  # 2024-05-01T00:00:00Z
RANGE_ERROR = "is outside 2000-01-01 to 2100-01-01 (UTC)"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1h30m", 5400.0), (90, 90.0), (2.5, 2.5), ("36500d", bounds.MAX_DURATION)],
)
def test_duration_in_range(value: str | float, seconds: float) -> None:
    """Durations as operators write them, and plain seconds, up to 100 years."""
    assert bounds.duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "nan is not a finite duration"),
        (float("inf"), "inf is not a finite duration"),
        (-1, "-1 is negative"),
        (10**400, "1" + "0" * 36 + "... is longer than 36500d"),
        ("99999999999d", "'99999999999d' is longer than 36500d"),
        ("9" * 65, "'" + "9" * 36 + "... is 65 characters long"),
        ("soon", "'soon' is not a duration"),
        (True, "True is not a duration"),
        ([], "[] is not a duration"),
    ],
)
def test_duration_out_of_range(value: object, message: str) -> None:
    """NaN, infinities, negative, huge and malformed durations are refused, quoted short."""
    with pytest.raises(OutOfBounds) as caught:
        bounds.duration(value)  # type: ignore[arg-type]
    assert caught.value.message == message


def test_duration_maximum_and_minimum_of_the_caller() -> None:
    """A caller's own limits are named in the message and the hint."""
    with pytest.raises(OutOfBounds) as caught:
        bounds.duration("91d", maximum=90 * 86400)
    assert str(caught.value) == "'91d' is longer than 90d: write at most 90d"
    with pytest.raises(OutOfBounds) as caught:
        bounds.duration("1s", minimum=5)
    assert str(caught.value) == "'1s' is shorter than 5s: write at least 5s"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2024-05-01T00:00:00Z", NOW),
        ("2024-05-01", NOW),
        ("2024-05-01T02:00:00+02:00", NOW),
        ("2000-01-01T00:00:00Z", bounds.EARLIEST),
        ("2100-01-01T00:00:00Z", bounds.LATEST),
    ],
)
def test_moment_in_range(text: str, seconds: float) -> None:
    """ISO times from 2000 to 2100; UTC when they carry no offset."""
    assert bounds.moment(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9999-12-31", f"'9999-12-31' {RANGE_ERROR}"),
        ("9999-12-31T23:59:59-23:59", f"'9999-12-31T23:59:59-23:59' {RANGE_ERROR}"),
        ("0001-01-01T00:00:00+01:00", f"'0001-01-01T00:00:00+01:00' {RANGE_ERROR}"),
        ("1999-12-31T23:59:59Z", f"'1999-12-31T23:59:59Z' {RANGE_ERROR}"),
        ("tomorrow", "'tomorrow' is not an ISO time"),
    ],
)
def test_moment_out_of_range(text: str, message: str) -> None:
    """Year 9999, year 1 (even where the offset overflows) and non-times are refused."""
    with pytest.raises(OutOfBounds) as caught:
        bounds.moment(text)
    assert caught.value.message == message


def test_when_is_a_moment_or_a_duration_ago() -> None:
    """'24h' is 24 hours before now; an ISO time is itself; reaching before 2000 is refused."""
    assert bounds.when("24h", NOW) == NOW - 86400
    assert bounds.when("2024-04-30T00:00:00Z", NOW) == NOW - 86400
    with pytest.raises(OutOfBounds) as caught:
        bounds.when("9000d", NOW)
    assert caught.value.message == "'9000d' ago is before 2000-01-01, the earliest time accepted"
    with pytest.raises(OutOfBounds) as caught:
        bounds.when("last week", NOW)
    assert str(caught.value) == (
        "'last week' is neither an ISO time nor a duration: write an ISO time like "
        "2024-05-01T12:00:00Z, a duration ago like 30m, 24h or 7d, today or yesterday"
    )


def test_today_and_yesterday_start_at_midnight_utc_or_local() -> None:
    """'today' is 00:00 UTC of now's day, 'yesterday' the day before; local days on request."""
    now = datetime(2024, 5, 1, 15, 30, tzinfo=UTC).timestamp()
    assert bounds.when("today", now) == datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    assert bounds.when(" Yesterday ", now) == datetime(2024, 4, 30, tzinfo=UTC).timestamp()
    local_midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0)
    assert bounds.when("today", now, local=True) == local_midnight.timestamp()


@pytest.mark.parametrize("value", ["0", "-1", "11", "²", "1e3", "9" * 5000, " ", True])
def test_whole_out_of_range(value: str) -> None:
    """Counts are ASCII digits within the caller's range; int() never sees 5,000 digits."""
    with pytest.raises(OutOfBounds) as caught:
        bounds.whole(value, minimum=1, maximum=10)
    assert caught.value.hint == "write a whole number from 1 to 10"


def test_whole_and_text_in_range() -> None:
    """Values in range come back as they are."""
    assert bounds.whole(" 7 ", minimum=1, maximum=10) == 7
    assert bounds.whole(-3, minimum=-5, maximum=0) == -3
    assert bounds.text("x" * 1000) == "x" * 1000
    with pytest.raises(OutOfBounds) as caught:
        bounds.text("x" * 1001)
    assert str(caught.value) == (
        "'" + "x" * 36 + "... is 1001 characters long: write at most 1000 characters"
    )


HOSTILE_DIGITS = ["\u00b2", "1\u00b2", "\u0663", "9" * 5000, "", " 1", "-1", "+1", "1e3"]


@pytest.mark.parametrize("text", HOSTILE_DIGITS)
def test_ascii_int_refuses_what_int_would_choke_on_or_misread(text: str) -> None:
    """Superscripts, other scripts' digits, signs, spaces and 5,000 digits are no number."""
    assert bounds.ascii_int(text) is None


def test_ascii_int_reads_plain_digits_up_to_its_bound() -> None:
    """Plain ASCII digits are read; one digit past ``max_digits`` is not."""
    assert (bounds.ascii_int("0042"), bounds.ascii_int("123", max_digits=2)) == (42, None)


@pytest.mark.parametrize("text", [t for t in HOSTILE_DIGITS if t.strip() != "1"])
def test_numbers_read_from_outside_never_crash(text: str) -> None:
    """Every reader of a number from outside (a header, a path, a variable, a field)
    answers "no number" for hostile digits instead of raising ValueError."""
    from medic.actions.signal import _pids_from_fields
    from medic.notify.http_post import Answer
    from medic.notify.signing import sign, verify
    from medic.probes.network.http import pick
    from medic.systemd_notify import watchdog_usec

    assert Answer(429, b"", text).retry_seconds is None
    assert not verify("k", text, b"{}", sign("k", 1, b"{}"), now=1)
    assert pick(["a"], text) is None
    assert watchdog_usec({"WATCHDOG_USEC": text}, 1) is None
    if text:  # an empty WATCHDOG_PID is an unset one
        assert watchdog_usec({"WATCHDOG_USEC": "5", "WATCHDOG_PID": text}, 1) is None
    if text != "-1":  # a negative pid is read, and refused later as a pid
        assert _pids_from_fields({"pids": [text]}) is None
