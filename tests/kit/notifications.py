"""The sample escalation the notifier tests render: a process still down after two
attempts. A test that needs other values derives its own with ``dataclasses.replace``."""

from __future__ import annotations

from medic.notify import Notification

INCIDENT = "01HX3V6J8K2M4N5P6Q7R8S9T0V"

ESCALATION = Notification(
    kind="escalation",
    incident=INCIDENT,
    policy="node-process-down",
    target="xai-node",
    host="node1",
    reason="remediation_failed",
    summary="xai-node still not running after 2 attempts",
    time="2024-05-01T03:00:12.000000Z",
    values={"running": False, "rss_bytes": 1610612736, "uptime": 5400},
    history=(
        {"step": 0, "action": "command", "outcome": "action.failed", "summary": "exited 1"},
        {"step": 0, "action": "command", "outcome": "action.timed_out", "summary": "after 30s"},
    ),
)

# The one failed attempt the PagerDuty and Alertmanager samples carry.
ONE_FAILURE = ({"action": "command", "outcome": "action.failed", "summary": "exited 1"},)
