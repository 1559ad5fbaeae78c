"""/metrics text written without prometheus-client is the text prometheus-client wrote."""

from __future__ import annotations

import re
import threading
from typing import Any

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from medic.metric_types import Counter, Family, Gauge, Histogram, go_float
from medic.metrics import Metrics

ODD_LABEL = 'a"b\\c\nd'


def _exercise(metrics: Any) -> None:
    """The same updates, on medic's families or on prometheus-client's."""
    metrics.probe_runs.labels("process", "ok").inc()
    metrics.probe_runs.labels("process", "ok").inc(2)
    metrics.probe_runs.labels("http", "timeout").inc()
    for value in (0.0005, 0.001, 0.003, 0.7, 12.0, 99.0):
        metrics.probe_duration.labels("process").observe(value)
    metrics.scheduler_lag.observe(0.02)
    metrics.policies.set(50)
    metrics.suppressions.labels(ODD_LABEL).inc()
    metrics.audit_events.labels("agent.started").inc()


def _client_metrics() -> Any:
    """Metrics as they were, on prometheus-client's own registry."""
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    mine = Metrics()

    class Old:
        pass

    old = Old()
    for attr, family in vars(mine).items():
        if not isinstance(family, Family):  # the collectors
            continue
        kind = type(family).__name__
        extra: dict[str, Any] = {"registry": registry}
        if kind == "Histogram":
            extra["buckets"] = family.bounds
        cls = getattr(prometheus_client, kind)
        setattr(old, attr, cls(family.name, family.documentation, family.labelnames, **extra))
    old.registry = registry  # type: ignore[attr-defined]
    return old


def _without_created_values(text: str) -> str:
    return re.sub(r"(_created(\{[^}]*\})?) \S+", r"\1 T", text)


def test_the_page_is_prometheus_clients_sample_for_sample() -> None:
    """Every HELP, TYPE and sample line matches prometheus-client's, creation times aside."""
    mine, old = Metrics(), _client_metrics()
    _exercise(mine)
    _exercise(old)
    expected = prometheus_client.generate_latest(old.registry).decode()
    assert _without_created_values(mine.text().decode()) == _without_created_values(expected)


def test_prometheus_parses_the_page() -> None:
    """Prometheus' own parser reads the page back: counts, buckets and odd label values."""
    metrics = Metrics()
    _exercise(metrics)
    families = {f.name: f for f in text_string_to_metric_families(metrics.text().decode())}
    runs = {
        (s.labels["probe"], s.labels["outcome"]): s.value
        for s in families["medic_probe_runs"].samples
        if s.name.endswith("_total")
    }
    assert runs == {("process", "ok"): 3.0, ("http", "timeout"): 1.0}
    reasons = [s.labels["reason"] for s in families["medic_suppressions"].samples]
    assert reasons[0] == ODD_LABEL
    buckets = {
        s.labels["le"]: s.value
        for s in families["medic_probe_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert (buckets["0.001"], buckets["1.0"], buckets["30.0"], buckets["+Inf"]) == (2, 4, 5, 6)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1.0"),
        (0.02, "0.02"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
        (1234567.5, "1.2345675e+06"),
        (123456.0, "123456.0"),
        (-1234567.0, "-1234567.0"),
        (1796294340.669, "1.796294340669e+09"),
        (1e20, "1e+20"),
    ],
)
def test_numbers_are_written_as_go_writes_them(value: float, text: str) -> None:
    """Values and bucket bounds read as Prometheus' own exporters write them."""
    assert go_float(value) == text


def test_wrong_use_is_refused() -> None:
    """A counter does not go down; labels must match the names; bounds must increase."""
    counter = Counter("c", "C.", ["a"])
    with pytest.raises(ValueError, match="only goes up"):
        counter.labels("x").inc(-1)
    with pytest.raises(ValueError, match="takes the labels"):
        counter.labels("x", "y")
    with pytest.raises(ValueError, match="must increase"):
        Histogram("h", "H.", buckets=(1, 0.5))


def test_updates_from_many_threads_are_all_counted() -> None:
    """Increments from threads (probes run off the loop) are not lost."""
    counter, gauge = Counter("c", "C."), Gauge("g", "G.")

    def work() -> None:
        for _ in range(10_000):
            counter.inc()
            gauge.inc()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "c_total 40000.0" in "\n".join(counter.text())
    assert "g 40000.0" in "\n".join(gauge.text())


def test_collectors_run_before_each_page_is_written() -> None:
    """A collector's gauge reads what it set at this page, not at an earlier one."""
    metrics = Metrics()
    live = [3]
    metrics.collectors.append(lambda: metrics.incidents_open.set(live[0]))
    assert "medic_incidents_open 3.0\n" in metrics.text().decode()
    live[0] = 0
    assert "medic_incidents_open 0.0\n" in metrics.text().decode()
