"""Samples a probe keeps per series, to answer "how much did this counter grow in 30 m?".

The ``prometheus`` probe's windowed fields (``increase``, ``rate``, ``changed``,
``window_full``, ``ratio``) come from here. Prometheus itself would answer from its
database; a scrape-mode probe has only what it saw itself, so it keeps, per series,
the samples of the last ``window`` in memory. The engine keeps one probe instance per
policy, so the samples live as long as the policy.

Each sample carries two running totals, so that dropping samples never loses what
they said: ``total``, the counter's growth since the series was first seen with
resets handled (a value lower than the previous one means the counter restarted from
zero, so the new value itself is the growth), and ``changes``, how many times the
value differed from the one before. The growth over the window is then the
difference of two totals, whichever samples lie between.

Bounds: samples older than the window are dropped except the newest of them (the
anchor, so the window is measured from a sample at least ``window`` old), a series
holds at most ``MAX_SAMPLES`` (beyond that every other inner sample is dropped, which
only coarsens the edge of the window), and a series not seen for a whole window is
forgotten.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

MAX_SAMPLES = 2048


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one series, when the probe read it, with the running totals."""

    t: float
    value: float
    total: float
    changes: int


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What the samples of one series say about the window that ends now."""

    increase: float | None
    rate: float | None
    changed: bool
    full: bool


class SeriesWindow:
    """The samples of one series over the last ``window`` seconds (plus the anchor)."""

    def __init__(self, window: float, max_samples: int = MAX_SAMPLES) -> None:
        self.window = window
        self.max_samples = max(3, max_samples)
        self.samples: deque[Sample] = deque()

    def add(self, t: float, value: float) -> None:
        """Record ``value`` read at ``t`` (monotonic seconds, not before the last sample)."""
        if math.isnan(value):
            return  # NaN is "no value": it neither grows nor changes anything
        if not self.samples:
            self.samples.append(Sample(t, value, 0.0, 0))
            return
        last = self.samples[-1]
        # A counter that went down was reset: it counted up from zero to `value` since.
        grown = value if value < last.value else value - last.value
        total = last.total + grown if math.isfinite(grown) else last.total
        changes = last.changes + (value != last.value)
        self.samples.append(Sample(t, value, total, changes))
        self._prune(t)

    def _prune(self, now: float) -> None:
        start = now - self.window
        while len(self.samples) >= 2 and self.samples[1].t <= start:
            self.samples.popleft()  # the next one is old enough to be the anchor
        if len(self.samples) > self.max_samples:
            kept = [s for i, s in enumerate(self.samples) if i % 2 == 0]
            if kept[-1] is not self.samples[-1]:
                kept.append(self.samples[-1])
            self.samples = deque(kept)

    def stats(self, now: float) -> WindowStats:
        """Increase, per-second rate and change over the window that ends at ``now``."""
        self._prune(now)
        if not self.samples:
            return WindowStats(None, None, changed=False, full=False)
        first, last = self.samples[0], self.samples[-1]
        full = first.t <= now - self.window
        if len(self.samples) < 2:
            return WindowStats(None, None, changed=False, full=full)
        increase = last.total - first.total
        span = last.t - first.t
        rate = increase / span if span > 0 else None
        return WindowStats(increase, rate, changed=last.changes > first.changes, full=full)

    def last_seen(self) -> float | None:
        return self.samples[-1].t if self.samples else None


class WindowStore:
    """Series windows by key, with the time of the previous run and forgetting of the gone."""

    def __init__(self, window: float, max_samples: int = MAX_SAMPLES) -> None:
        self.window = window
        self.max_samples = max_samples
        self.series: dict[str, SeriesWindow] = {}
        self.first_run: float | None = None
        self.previous_run: float | None = None

    def add(self, key: str, t: float, value: float, *, counts_from_zero: bool = False) -> None:
        """Record one series' value; a counter first seen after the first run grew from 0.

        A counter series that appears between two runs was created since the previous
        one (counters start at zero), so its whole value is growth: without the zero,
        the first error of a kind would never count.
        """
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = SeriesWindow(self.window, self.max_samples)
            if counts_from_zero and self.previous_run is not None:
                series.add(self.previous_run, 0.0)
        series.add(t, value)

    def stats(self, key: str, now: float) -> WindowStats:
        series = self.series.get(key)
        if series is None:
            return WindowStats(None, None, changed=False, full=False)
        return series.stats(now)

    def finish_run(self, now: float) -> None:
        """Close a run: remember its time and forget series unseen for a whole window."""
        if self.first_run is None:
            self.first_run = now
        self.previous_run = now
        for key in [
            k for k, s in self.series.items() if (s.last_seen() or now) < now - self.window
        ]:
            del self.series[key]

    def running_for_window(self, now: float) -> bool:
        """The store has watched for at least the whole window."""
        return self.first_run is not None and self.first_run <= now - self.window
