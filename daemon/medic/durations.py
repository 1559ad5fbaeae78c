"""Durations as operators write them: ``500ms``, ``30s``, ``5m``, ``1h30m``, ``7d``.

Parsing, formatting, the pattern a JSON Schema checks their form with, and
:class:`Span`, the range of seconds a duration option allows (``durationRange`` in a
schema). The policy language, the agent config and every plugin read durations from
here; nothing here knows about policies.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}

# One or more <number><unit> parts, e.g. "1h30m" or "2.5s"; at most 9 digits a number.
PATTERN = r"^(\d{1,9}(\.\d{1,9})?(ms|s|m|h|d|w))+$"
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(PATTERN)

HINT = "write a number with a unit, like 500ms, 30s, 5m, 1h or 1h30m"


class DurationError(ValueError):
    """Raised for text that is not a duration; the message says how to write one."""


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``; plain numbers are seconds already."""
    if isinstance(value, bool):
        raise DurationError(f"{value!r} is not a duration: {HINT}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise DurationError(f"{value!r} is far too large: {HINT}") from None
        if not math.isfinite(seconds):
            raise DurationError(f"{value!r} is not a finite number: {HINT}")
        if seconds < 0:
            raise DurationError(f"{value!r} is negative: {HINT}")
        return seconds
    written = _text_seconds(value.strip())
    if written is None:
        raise DurationError(f"{value!r} is not a duration: {HINT}")
    return written


@functools.lru_cache(maxsize=1024)
def _text_seconds(text: str) -> float | None:
    """Seconds in a written duration (None: not one); a pack repeats a few dozen of them."""
    if not _WHOLE.match(text):
        return None
    return sum(float(num) * UNITS[unit] for num, unit in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """The shortest readable form: 90 -> '1m30s', 0.25 -> '250ms'."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if remaining >= size:
            count, remaining = divmod(remaining, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


def show(seconds: float) -> str:
    """A range end for a message: ``0s`` for zero, else :func:`format_duration`."""
    return format_duration(seconds) if seconds else "0s"


# The schema keyword that carries a duration option's Span (checked by the policy validator).
KEYWORD = "durationRange"
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
WEEK = 7 * DAY


@dataclass(frozen=True)
class Span:
    """A closed range of seconds; ``above`` excludes ``low`` itself (more than 0)."""

    low: float
    high: float
    above: bool = False

    def fits(self, seconds: float) -> bool:
        if not math.isfinite(seconds) or seconds > self.high:
            return False
        return seconds > self.low if self.above else seconds >= self.low

    def describe(self) -> str:
        low = f"more than {show(self.low)}" if self.above else f"from {show(self.low)}"
        return f"{low} up to {show(self.high)}"

    def keyword(self) -> dict[str, Any]:
        """The value of ``durationRange`` in a schema."""
        return {"minimum": self.low, "maximum": self.high, "exclusiveMinimum": self.above}

    def number_bounds(self) -> dict[str, Any]:
        """``minimum``/``maximum`` for the plain-seconds form, which editors understand."""
        low = {"exclusiveMinimum": self.low} if self.above else {"minimum": self.low}
        return {**low, "maximum": self.high}

    @classmethod
    def of(cls, keyword: dict[str, Any]) -> Span:
        return cls(keyword["minimum"], keyword["maximum"], keyword["exclusiveMinimum"])


# Any duration option of a plugin unless it says otherwise: not negative, at most a week.
ANY = Span(0.0, WEEK)
