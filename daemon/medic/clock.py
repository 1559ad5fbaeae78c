"""Time, injected: the engine asks a clock instead of calling ``time`` itself."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals and timeouts)."""

    def wall(self) -> float:
        """Seconds since the epoch (for the audit log and persisted limits)."""


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


class FakeClock:
    """A clock tests move by hand: ``clock.advance(30)``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._wall = start
        self._mono = 1000.0

    def monotonic(self) -> float:
        return self._mono

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        self._wall += seconds
        self._mono += seconds


# Up to the year 9999: beyond, datetime has its own errors to give.
_LAST_SECOND = 253_402_300_799


def iso(ts: float) -> str:
    """Fixed-width UTC ISO-8601 with microseconds, so text order is time order.

    The text up to the second is formatted once per second (a thousand samples a second
    share it); the microseconds are rounded half to even, as ``datetime`` does.
    """
    if 0 <= ts < _LAST_SECOND:
        whole = int(ts)
        micro = round((ts - whole) * 1e6)  # exact: the integer part is cut off exactly
        if micro >= 1_000_000:
            whole, micro = whole + 1, micro - 1_000_000
        return f"{_second(whole)}.{micro:06d}Z"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=16)
def _second(whole: int) -> str:
    return datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
