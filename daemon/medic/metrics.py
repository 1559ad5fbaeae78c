"""Prometheus metrics, in a registry of the agent's own (not the process-global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from medic.loop_histogram import LoopHistogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.probe_runs = Counter(
            "medic_probe_runs",
            "Probe runs by probe type and outcome (ok, error, timeout).",
            ["probe", "outcome"],
            registry=self.registry,
        )
        # Observed on every evaluation, from the loop: no lock per observation.
        self.probe_duration = LoopHistogram(
            "medic_probe_duration_seconds",
            "How long one probe run took.",
            ["probe"],
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30),
            registry=self.registry,
        )
        self.actions = Counter(
            "medic_actions",
            "Remediation steps by action type and outcome.",
            ["action", "outcome"],
            registry=self.registry,
        )
        self.suppressions = Counter(
            "medic_suppressions",
            "Actions the condition called for but Medic did not run, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.scheduler_lag = LoopHistogram(
            "medic_scheduler_lag_seconds",
            "How late a policy evaluation started against its schedule.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
            registry=self.registry,
        )
        self.policies = Gauge(
            "medic_policies", "Policies loaded and running.", registry=self.registry
        )
        self.targets = Gauge(
            "medic_targets", "Targets by lifecycle state.", ["state"], registry=self.registry
        )
        self.incidents_open = Gauge(
            "medic_incidents_open", "Incidents not yet healed or cleared.", registry=self.registry
        )
        self.audit_events = Counter(
            "medic_audit_events", "Audit events written, by kind.", ["kind"], registry=self.registry
        )
