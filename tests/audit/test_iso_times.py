"""The audit log's time text (:func:`medic.clock.iso`), formatted once per second."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from medic.clock import iso


def _by_datetime(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Halves of a microsecond (rounded to even), a carry into the next second, and times
# outside the per-second cache (before 1970, the last second of 9999).
EDGES = [
    *(0.0, 1e-7, 0.5, 1.9999995, 1.9999994999, 1.0000005, 1.0000015, 1.7e9 + 0.9999996),
    *(-1.5, 253_402_300_799.5),
]


@pytest.mark.parametrize("ts", EDGES)
def test_edges_read_as_datetime_writes_them(ts: float) -> None:
    """Rounding half to even, a carry into the next second, and beyond the fast range."""
    assert iso(ts) == _by_datetime(ts)


def test_any_time_reads_as_datetime_writes_it() -> None:
    """Fifty thousand random times, microsecond halves included, match datetime's text."""
    rng = random.Random(14)  # noqa: S311  reproducible test times, not secrets
    for _ in range(50_000):
        base = rng.randint(0, 4_000_000_000) + rng.randint(0, 999_999) / 1e6
        ts = base + rng.choice([0.0, 5e-7, -5e-7, rng.random() / 1e6])
        assert iso(ts) == _by_datetime(ts), ts
