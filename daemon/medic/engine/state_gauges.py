"""The gauges of live state, read from the runners when ``/metrics`` is scraped.

``medic_targets{state=...}`` counts the targets of every running policy by lifecycle
:class:`~medic.engine.core.target_state.Phase`, and ``medic_incidents_open`` the
targets with an open incident (pending ones included: detected, not yet healed or
cleared). Both are computed from the targets' states at scrape time, so an evaluation
pays nothing for them, and every phase is written each time: a phase no target is in
(after a heal, or after a reload removed the policies that had some) reads 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from medic.engine.core.target_state import Phase, TargetState
from medic.metrics import Metrics

# Each running policy's targets and their states (PolicyRunner.states).
States = Iterable[Mapping[str, TargetState]]


def set_state_gauges(metrics: Metrics, states: States) -> None:
    """Set ``medic_targets`` per phase and ``medic_incidents_open`` from ``states``."""
    counts = dict.fromkeys(Phase, 0)
    open_incidents = 0
    for targets in states:
        for state in targets.values():
            counts[state.phase] += 1
            open_incidents += state.incident is not None
    for phase, count in counts.items():
        metrics.targets.labels(phase.value).set(count)
    metrics.incidents_open.set(open_incidents)


def state_collector(metrics: Metrics, states: Callable[[], States]) -> Callable[[], None]:
    """A collector for :attr:`Metrics.collectors` reading ``states()`` at each scrape
    (a callable, so the runners a reload swaps in are the ones read)."""
    return lambda: set_state_gauges(metrics, states())
