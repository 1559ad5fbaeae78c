"""The agent's Prometheus metrics, written by ``/metrics`` (:mod:`medic.metric_types`).

Most are updated where things happen (a probe run, an action, an audit event). The
gauges of live state (``medic_targets``, ``medic_incidents_open``) are set by the
``collectors`` just before each page is written, from the state as it is then: no
cost on the evaluation path, and never a stale value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medic.metric_types import Counter, Family, Gauge, Histogram, exposition


class Metrics:
    def __init__(self) -> None:
        self.probe_runs = Counter(
            "medic_probe_runs",
            "Probe runs by probe type and outcome (ok, error, timeout).",
            ["probe", "outcome"],
        )
        self.probe_duration = Histogram(
            "medic_probe_duration_seconds",
            "How long one probe run took.",
            ["probe"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
        )
        self.actions = Counter(
            "medic_actions",
            "Remediation steps by action type and outcome.",
            ["action", "outcome"],
        )
        self.suppressions = Counter(
            "medic_suppressions",
            "Actions the condition called for but Medic did not run, by reason.",
            ["reason"],
        )
        self.scheduler_lag = Histogram(
            "medic_scheduler_lag_seconds",
            "How late a policy evaluation started against its schedule.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
        )
        self.policies = Gauge("medic_policies", "Policies loaded and running.")
        self.targets = Gauge("medic_targets", "Targets by lifecycle state.", ["state"])
        self.incidents_open = Gauge("medic_incidents_open", "Incidents not yet healed or cleared.")
        self.audit_events = Counter(
            "medic_audit_events", "Audit events written, by kind.", ["kind"]
        )
        # Run before each page is written: they set the gauges read from live state.
        self.collectors: list[Callable[[], None]] = []

    def families(self) -> list[Family[Any]]:
        """Every family, in the order /metrics shows them."""
        return [value for value in vars(self).values() if isinstance(value, Family)]

    def text(self) -> bytes:
        """The Prometheus text page of every family, once the collectors have run."""
        for collect in self.collectors:
            collect()
        return exposition(self.families())
