"""A Prometheus histogram for the event loop's hot path: no lock per observation.

``prometheus_client.Histogram`` takes a lock for its sum and another for its bucket on
every ``observe`` (it may be observed from any thread). The agent observes two
histograms on every evaluation, a thousand times a second with a thousand 1-second
checks, always from the event loop: :class:`LoopHistogram` keeps plain counts instead
and hands them to the registry at scrape time, in the same text format (cumulative
``_bucket`` series with ``le``, ``_count``, ``_sum``). Observe it from the loop only.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import cast

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

# How prometheus_client writes a bound ("0.025", "+Inf"); untyped there.
_le = cast(Callable[[float], str], floatToGoString)


class LoopHistogramChild:
    """One label set's counts: ``counts[i]`` observations at most ``bounds[i]``, not
    within an earlier bound."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: the first bound >= value, as Prometheus' ``le`` means "at most".
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip(self.bounds, self.counts, strict=True):
            total += count
            out.append((_le(bound), float(total)))
        return out


class LoopHistogram:
    """A histogram with labels (``labels(...)``) or without (``observe``), collected by
    ``registry``."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        bounds = sorted(float(b) for b in buckets)
        if not bounds or bounds[-1] != math.inf:
            bounds.append(math.inf)
        self.bounds = tuple(bounds)
        self._children: dict[tuple[str, ...], LoopHistogramChild] = {}
        self._unlabelled = None if self.labelnames else self._child(())
        registry.register(self)

    def _child(self, values: tuple[str, ...]) -> LoopHistogramChild:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = LoopHistogramChild(self.bounds)
        return child

    def labels(self, *values: str) -> LoopHistogramChild:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
        return self._child(tuple(str(v) for v in values))

    def observe(self, value: float) -> None:
        if self._unlabelled is None:
            raise ValueError(f"{self.name} has labels {self.labelnames}: use labels()")
        self._unlabelled.observe(value)

    def describe(self) -> list[Metric]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self._children.items()):
            family.add_metric(list(values), child.cumulative(), child.sum)
        yield family
