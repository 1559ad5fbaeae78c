"""medic_targets and medic_incidents_open, counted from the runners' target states."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from medic.engine.core.target_state import Phase, TargetState
from medic.engine.state_gauges import set_state_gauges, state_collector
from medic.metrics import Metrics

NONE = {phase.value: 0.0 for phase in Phase}


def _gauges(metrics: Metrics) -> tuple[dict[str, float], float]:
    """The page's medic_targets by state and its medic_incidents_open."""
    families = {f.name: f for f in text_string_to_metric_families(metrics.text().decode())}
    targets = {s.labels["state"]: s.value for s in families["medic_targets"].samples}
    return targets, families["medic_incidents_open"].samples[0].value


def test_targets_are_counted_by_phase_across_policies() -> None:
    """Every policy's targets count under their phase; targets with an incident are open."""
    metrics = Metrics()
    web = {
        "a": TargetState(),
        "b": TargetState(phase=Phase.FIRING, incident="i1"),
        "c": TargetState(phase=Phase.VERIFYING, incident="i2"),
    }
    db = {"d": TargetState(phase=Phase.PENDING, incident="i3"), "e": TargetState()}
    set_state_gauges(metrics, [web, db])
    assert _gauges(metrics) == ({**NONE, "ok": 2, "firing": 1, "verifying": 1, "pending": 1}, 3)


def test_every_phase_is_written_even_with_no_target_in_it() -> None:
    """An agent with no policy shows each state at 0, not an empty family."""
    metrics = Metrics()
    set_state_gauges(metrics, [])
    assert _gauges(metrics) == (NONE, 0)


def test_a_phase_left_empty_reads_zero_at_the_next_scrape() -> None:
    """Runners swapped for others (a reload) leave no stale count behind."""
    metrics = Metrics()
    runners = [{"a": TargetState(phase=Phase.AWAITING_APPROVAL, incident="i1")}]
    metrics.collectors.append(state_collector(metrics, lambda: runners))
    assert _gauges(metrics) == ({**NONE, "awaiting_approval": 1}, 1)
    runners = [{"b": TargetState()}]
    assert _gauges(metrics) == ({**NONE, "ok": 1}, 0)
