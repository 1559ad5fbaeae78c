"""Window functions: what a field did over the last minutes, ``p95(latency_ms[5m])``.

A window function reads the samples the engine kept of one field of one target
(:mod:`medic.engine.samples`), oldest first, as ``(time, value)`` pairs with booleans
as 1 and 0. The functions here are pure: they get the samples inside the window and
return a number, or null when the samples cannot say (too few of them). Whether the
window is full yet is the engine's business: until it is, the value is null.

``docs/conditions.md`` (Windows over a field's history) is the user's reference.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Samples = Sequence[tuple[float, float]]

# A window reaches back at most this far (31 days): samples are kept in memory.
MAX_WINDOW = 31 * 86400.0
# And at least this far: one second.
MIN_WINDOW = 1.0


@dataclass(frozen=True, slots=True)
class Window:
    """One ``function(field[duration])`` of a condition; ``key`` is its canonical text,
    under which the engine hands the window's value to the condition."""

    function: str
    field: str
    seconds: float
    key: str


def _values(samples: Samples) -> list[float]:
    return [value for _, value in samples]


def _avg(samples: Samples) -> float | None:
    """The mean of the values."""
    return math.fsum(_values(samples)) / len(samples) if samples else None


def _min(samples: Samples) -> float | None:
    """The smallest value."""
    return min(_values(samples)) if samples else None


def _max(samples: Samples) -> float | None:
    """The largest value."""
    return max(_values(samples)) if samples else None


def _delta(samples: Samples) -> float | None:
    """The last value minus the first (for gauges: a queue that grew by 40)."""
    return samples[-1][1] - samples[0][1] if len(samples) >= 2 else None


def _increase(samples: Samples) -> float | None:
    """How much a counter grew; a drop means the counter restarted from zero, so the
    value after the drop is itself growth."""
    if len(samples) < 2:
        return None
    grown = 0.0
    for (_, before), (_, after) in itertools.pairwise(samples):
        grown += after - before if after >= before else after
    return grown


def _rate(samples: Samples) -> float | None:
    """The counter's growth per second between the first and the last sample."""
    grown = _increase(samples)
    span = samples[-1][0] - samples[0][0] if samples else 0.0
    return grown / span if grown is not None and span > 0 else None


def _changes(samples: Samples) -> float | None:
    """How many times the value differed from the one before it."""
    if not samples:
        return None
    values = _values(samples)
    return float(sum(1 for a, b in itertools.pairwise(values) if a != b))


def _availability(samples: Samples) -> float | None:
    """The share of samples where the field was true (nonzero), in percent."""
    if not samples:
        return None
    return 100.0 * sum(1 for value in _values(samples) if value) / len(samples)


def percentile(share: float) -> Callable[[Samples], float | None]:
    """The nearest-rank percentile: the smallest value at least ``share`` % of the
    samples are less than or equal to (p50 of 1, 2, 3, 4 is 2)."""

    def pick(samples: Samples) -> float | None:
        if not samples:
            return None
        ordered = sorted(_values(samples))
        rank = max(1, math.ceil(share / 100.0 * len(ordered)))
        return ordered[rank - 1]

    pick.__doc__ = f"The {share:g}th percentile (nearest rank)."
    return pick


WINDOW_FUNCTIONS: dict[str, Callable[[Samples], float | None]] = {
    "availability": _availability,
    "avg": _avg,
    "changes": _changes,
    "delta": _delta,
    "increase": _increase,
    "max": _max,
    "min": _min,
    "p50": percentile(50),
    "p90": percentile(90),
    "p95": percentile(95),
    "p99": percentile(99),
    "rate": _rate,
}


def _time(sample: tuple[float, float]) -> float:
    return sample[0]


def window_value(
    window: Window, samples: list[tuple[float, float]], now: float, every: float
) -> float | None:
    """The value of ``window`` at ``now`` over a field's ``samples`` (oldest first, the
    ring's whole history); null until the samples reach back a whole window, less one
    probe interval (``every``), so a window is not judged on a few minutes of data."""
    if not samples or now - samples[0][0] < window.seconds - every:
        return None
    first = bisect.bisect_left(samples, now - window.seconds - 1e-6, key=_time)
    inside = samples[first:]
    if not inside:
        return None
    return WINDOW_FUNCTIONS[window.function](inside)
