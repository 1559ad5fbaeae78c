"""Counters, gauges and histograms in the Prometheus text format, without a library.

The agent keeps nine metric families whose labels come from short closed sets (probe
and action types, outcomes, suppression reasons, audit event kinds), and ``/metrics``
writes them as text. prometheus-client did that for 1.4 MB of resident memory in every
agent (issue 14); these few classes write the same page, sample for sample: a
counter's ``_total`` and ``_created`` series, a histogram's cumulative ``_bucket``
series with ``_count``, ``_sum`` and ``_created``, labels in name order, values as Go
writes floats. ``tests/api/test_metric_types.py`` holds them to prometheus-client's text.

Updates may come from any thread (a probe run off the loop), so each family has a lock.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, Generic, TypeVar

# What /metrics answers with: the classic text format these families are written in.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Sample = tuple[str, dict[str, str], float]  # (name, labels, value)


def go_float(value: float) -> str:
    """``value`` as the exposition writes it: ``1.0``, ``+Inf``, ``NaN``, and a positive
    number with more than six integer digits in exponent form (``1.7e+09``), as Go does."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(float(value))
    point = text.find(".")
    if value > 0 and point > 6 and "e" not in text:
        digits = f"{text[0]}.{text[1:point]}{text[point + 1 :]}".rstrip("0").rstrip(".")
        return f"{digits}e+{point - 1:02d}"
    return text


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _lines(name: str, documentation: str, kind: str, samples: list[Sample]) -> Iterator[str]:
    """A HELP line, a TYPE line, then one line per sample."""
    doc = documentation.replace("\\", "\\\\").replace("\n", "\\n")
    yield f"# HELP {name} {doc}"
    yield f"# TYPE {name} {kind}"
    for sample, labels, value in samples:
        pairs = ",".join(f'{key}="{_label_value(labels[key])}"' for key in sorted(labels))
        yield f"{sample}{{{pairs}}} {go_float(value)}" if pairs else f"{sample} {go_float(value)}"


class Series:
    """One set of label values: its value (a histogram's: the sum), when first seen."""

    def __init__(self, buckets: int = 0) -> None:
        self.value = 0.0
        self.created = time.time()
        self.counts = [0] * buckets  # a histogram's, per bucket (not cumulative)


S = TypeVar("S", bound="Child")


class Family(Generic[S]):
    """One metric name, its label names, a series per set of label values."""

    kind = "untyped"
    suffix = ""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.lock = threading.Lock()
        self._series: dict[tuple[str, ...], Series] = {}
        if not self.labelnames:  # an unlabelled metric shows its zero from the start
            self._series[()] = self._new()

    def _new(self) -> Series:
        return Series()

    def _child(self, series: Series) -> S:
        raise NotImplementedError

    def labels(self, *values: str) -> S:
        """The series of these label values, one per label name in their order."""
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} takes the labels {self.labelnames}, not {values}")
        key = tuple(str(v) for v in values)
        with self.lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = self._new()
        return self._child(series)

    def _samples(self, labels: dict[str, str], series: Series) -> list[Sample]:
        return [(self.name + self.suffix, labels, series.value)]

    def text(self) -> Iterator[str]:
        """HELP, TYPE, the samples; then a counter's or histogram's ``_created`` series."""
        samples: list[Sample] = []
        created: list[Sample] = []
        with self.lock:
            for key, series in self._series.items():
                labels = dict(zip(self.labelnames, key, strict=True))
                samples += self._samples(labels, series)
                created.append((f"{self.name}_created", labels, series.created))
        yield from _lines(self.name + self.suffix, self.documentation, self.kind, samples)
        if self.kind != "gauge" and created:
            yield from _lines(f"{self.name}_created", self.documentation, "gauge", created)


class Child:
    """What ``labels()`` gives: the handle that updates one series."""

    def __init__(self, family: Family[Any], series: Series) -> None:
        self._lock = family.lock
        self._series = series


class CounterChild(Child):
    def inc(self, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        with self._lock:
            self._series.value += amount


class GaugeChild(Child):
    def set(self, value: float) -> None:
        with self._lock:
            self._series.value = float(value)

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self._series.value += amount


class HistogramChild(Child):
    def __init__(self, family: Histogram, series: Series) -> None:
        super().__init__(family, series)
        self._bounds = family.bounds

    def observe(self, value: float) -> None:
        index = bisect.bisect_left(self._bounds, value)  # a value on a bound is in its bucket
        with self._lock:
            self._series.counts[index] += 1
            self._series.value += value


class Counter(Family[CounterChild]):
    """A count that only goes up: ``counter.labels("process", "ok").inc()``."""

    kind = "counter"
    suffix = "_total"

    def _child(self, series: Series) -> CounterChild:
        return CounterChild(self, series)

    def inc(self, amount: float = 1.0) -> None:
        self.labels().inc(amount)


class Gauge(Family[GaugeChild]):
    """A value that goes up and down: ``gauge.set(50)``."""

    kind = "gauge"

    def _child(self, series: Series) -> GaugeChild:
        return GaugeChild(self, series)

    def set(self, value: float) -> None:
        self.labels().set(value)

    def inc(self, amount: float = 1.0) -> None:
        self.labels().inc(amount)


class Histogram(Family[HistogramChild]):
    """Observations counted into buckets: ``histogram.labels("process").observe(0.003)``."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> None:
        bounds = tuple(float(b) for b in buckets)
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError(f"{name}: the bucket bounds must increase")
        self.bounds = bounds if math.isinf(bounds[-1]) else (*bounds, math.inf)
        super().__init__(name, documentation, labelnames)

    def _new(self) -> Series:
        return Series(len(self.bounds))

    def _child(self, series: Series) -> HistogramChild:
        return HistogramChild(self, series)

    def observe(self, value: float) -> None:
        self.labels().observe(value)

    def _samples(self, labels: dict[str, str], series: Series) -> list[Sample]:
        out: list[Sample] = []
        running = 0
        for bound, count in zip(self.bounds, series.counts, strict=True):
            running += count
            out.append((f"{self.name}_bucket", {**labels, "le": go_float(bound)}, running))
        out.append((f"{self.name}_count", labels, running))
        out.append((f"{self.name}_sum", labels, series.value))
        return out


def exposition(families: Sequence[Family[Any]]) -> bytes:
    """The families as one Prometheus text page."""
    return "".join(f"{line}\n" for family in families for line in family.text()).encode()
