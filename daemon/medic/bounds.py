"""Numbers, durations and times from outside, parsed and held within sane bounds.

The API's query parameters and JSON bodies and the CLI's options all go through
these, so ``99999999999d``, ``NaN``, ``9999-12-31`` or a 5,000-digit number is refused
where it arrives, with a message that says what would be accepted, and never reaches
arithmetic, ``datetime`` or SQLite, where it would fail far from its cause.

The bounds:

- a moment lies between :data:`EARLIEST` (2000-01-01) and :data:`LATEST` (2100-01-01),
  UTC; an ISO time without an offset is UTC;
- a duration is finite, not negative, and at most :data:`MAX_DURATION` (100 years)
  unless the caller gives a smaller maximum; "that long ago" must not reach before
  :data:`EARLIEST`;
- a whole number is written in ASCII digits and lies in the caller's range;
- text is at most :data:`MAX_TEXT` characters unless the caller says otherwise.

Each function raises :class:`OutOfBounds` (a :class:`~medic.errors.MedicError`) whose
``message`` quotes the value and whose ``hint`` says how to write one; the API renders
it as a 400 naming the parameter, the CLI as a usage error naming the option.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

from medic.durations import DurationError, format_duration, parse_duration
from medic.errors import MedicError

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
LATEST = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
RANGE = "2000-01-01 to 2100-01-01 (UTC)"
MAX_DURATION = 100 * 365 * 86400.0
MAX_TEXT = 1000
# Longer than any duration or time anyone writes: refused before a regex or parser sees it.
MAX_TIME_TEXT = 64

TIME_HINT = (
    "write an ISO time like 2024-05-01T12:00:00Z, a duration ago like 30m, 24h or 7d, "
    "today or yesterday"
)
ISO_HINT = "write an ISO time like 2024-05-01T12:00:00Z (UTC when it has no offset)"
DURATION_HINT = "write a number with a unit, like 500ms, 30s, 5m, 1h or 1h30m"

# A duration with any count of digits: the shape, before its size is checked.
_LOOSE_DURATION = re.compile(r"^(\d{1,40}(\.\d{1,40})?(ms|s|m|h|d|w))+$")
_DURATION_SHAPE = _LOOSE_DURATION
# Named days `when` takes, and how many days back each starts.
DAYS = {"today": 0, "yesterday": 1}


class OutOfBounds(MedicError):
    """A value from outside that is malformed or out of range; ``hint`` says the fix."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message, hint=hint)

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message


def _short(value: object) -> str:
    """The value quoted for a message, cut so a 10,000-character input stays one line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def text(value: str, *, max_length: int = MAX_TEXT) -> str:
    """``value`` unless it is longer than ``max_length`` characters."""
    if len(value) > max_length:
        raise OutOfBounds(
            f"{_short(value)} is {len(value)} characters long",
            f"write at most {max_length} characters",
        )
    return value


def duration(
    value: str | int | float, *, maximum: float = MAX_DURATION, minimum: float = 0.0
) -> float:
    """Seconds in ``value`` (``90``, ``"1h30m"``), finite and within ``minimum..maximum``."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise OutOfBounds(f"{_short(value)} is not a duration", DURATION_HINT)
    if isinstance(value, str):
        text(value, max_length=MAX_TIME_TEXT)
        try:
            seconds = parse_duration(value)
        except DurationError:
            # Well formed but with more digits than a policy may write: say it is too long.
            if not _LOOSE_DURATION.fullmatch(value.strip()):
                raise OutOfBounds(f"{_short(value)} is not a duration", DURATION_HINT) from None
            seconds = math.inf
    elif isinstance(value, float) and not math.isfinite(value):
        raise OutOfBounds(f"{_short(value)} is not a finite duration", DURATION_HINT)
    elif value < 0:
        raise OutOfBounds(f"{_short(value)} is negative", DURATION_HINT)
    else:
        # float() of a 400-digit int overflows: compare first, convert after.
        seconds = float(value) if value <= maximum else math.inf
    if seconds < minimum:
        raise OutOfBounds(
            f"{_short(value)} is shorter than {format_duration(minimum)}",
            f"write at least {format_duration(minimum)}",
        )
    if seconds > maximum:
        raise OutOfBounds(
            f"{_short(value)} is longer than {format_duration(maximum)}",
            f"write at most {format_duration(maximum)}",
        )
    return seconds


def moment(value: str) -> float:
    """Epoch seconds of an ISO time between 2000 and 2100; UTC when it has no offset."""
    raw = text(value.strip(), max_length=MAX_TIME_TEXT)
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp()
    except (ValueError, OverflowError):
        raise OutOfBounds(f"{_short(raw)} is not an ISO time", ISO_HINT) from None
    if not EARLIEST <= seconds <= LATEST:
        raise OutOfBounds(f"{_short(raw)} is outside {RANGE}", f"write a time from {RANGE}")
    return seconds


def day_start(name: str, now: float, *, local: bool = False) -> float:
    """The start of ``today`` or ``yesterday`` (of ``now``): UTC midnight, or local."""
    back = timedelta(days=DAYS[name])
    if local:  # naive local time: .timestamp() applies the offset of that very day (DST)
        midnight = datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - back).timestamp()
    start = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (start - back).timestamp()


def when(value: str, now: float, *, local: bool = False) -> float:
    """A moment: an ISO time, a duration meaning that long before ``now``, or ``today``
    / ``yesterday`` (the start of that day, in UTC unless ``local``)."""
    raw = text(value.strip(), max_length=MAX_TIME_TEXT)
    if raw.lower() in DAYS:
        return day_start(raw.lower(), now, local=local)
    if _DURATION_SHAPE.match(raw):
        ago = duration(raw)
        if now - ago < EARLIEST:
            raise OutOfBounds(
                f"{_short(raw)} ago is before 2000-01-01, the earliest time accepted",
                "write a shorter duration, or leave the option out for no lower bound",
            )
        return now - ago
    try:
        return moment(raw)
    except OutOfBounds as exc:
        if exc.hint == ISO_HINT:
            raise OutOfBounds(
                f"{_short(raw)} is neither an ISO time nor a duration", TIME_HINT
            ) from None
        raise


def ascii_int(text: str, *, max_digits: int = 18) -> int | None:
    """The whole number ``text`` writes in ASCII digits (no sign, no spaces), else None.

    ``str.isdigit`` alone also takes ``²`` and other digits ``int`` refuses, and bounding
    the digits bounds ``int``'s work: every number read from outside goes through here."""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


def whole(value: str | int, *, minimum: int, maximum: int) -> int:
    """A whole number from ``minimum`` to ``maximum``, written in ASCII digits."""
    wrong = OutOfBounds(
        f"{_short(value)} is not a whole number from {minimum} to {maximum}",
        f"write a whole number from {minimum} to {maximum}",
    )
    if isinstance(value, bool):
        raise wrong
    if isinstance(value, int):
        number = value
    else:
        raw = value.strip()
        digits = raw[1:] if raw[:1] == "-" else raw
        magnitude = ascii_int(digits)
        if magnitude is None:
            raise wrong
        number = -magnitude if raw[:1] == "-" else magnitude
    if not minimum <= number <= maximum:
        raise wrong
    return number
