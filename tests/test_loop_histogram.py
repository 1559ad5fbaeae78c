"""The loop's lock-free histogram (:mod:`medic.loop_histogram`) exposes what
prometheus_client's own Histogram would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from medic.loop_histogram import LoopHistogram

BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30)
VALUES = (0.0, 0.0004, 0.001, 0.003, 0.05, 0.07, 2.5, 30.0, 99.0)


def text(registry: CollectorRegistry) -> list[str]:
    lines = generate_latest(registry).decode().splitlines()
    return [line for line in lines if "_created" not in line]


def test_the_exposition_is_prometheus_clients_own() -> None:
    """Same observations, same labels: the same /metrics lines (bar the _created series)."""
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("d_seconds", "How long.", ["probe"], buckets=BUCKETS, registry=theirs)
    loop = LoopHistogram("d_seconds", "How long.", ["probe"], buckets=BUCKETS, registry=ours)
    for kind in ("file", "process"):
        for value in VALUES:
            reference.labels(kind).observe(value)
            loop.labels(kind).observe(value)
    assert text(ours) == text(theirs)


def test_an_unlabelled_histogram_observes_directly_and_refuses_labels() -> None:
    """Without labels, observe() counts; labels() with the wrong count is a clear error."""
    registry = CollectorRegistry()
    lag = LoopHistogram("lag_seconds", "Late.", buckets=(0.1, 1), registry=registry)
    lag.observe(0.5)
    assert 'lag_seconds_bucket{le="1.0"} 1.0' in text(registry)
    with pytest.raises(ValueError, match="takes labels"):
        lag.labels("x")
    labelled = LoopHistogram("x_seconds", "X.", ["probe"], buckets=(1,), registry=registry)
    with pytest.raises(ValueError, match="use labels"):
        labelled.observe(1.0)
