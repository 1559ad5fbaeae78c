"""A policy's escalate.severity reaches every notifier, each in its own terms."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from medic.audit.store import AuditStore
from medic.clock import FakeClock, iso
from medic.engine.core.state import Escalate
from medic.engine.escalation import Escalator
from medic.notify import alertmanager, email_message, pagerduty, slack, webhook
from medic.notify.base import Notification
from medic.notify.delivery import decode

NOTE = Notification(
    kind="escalation",
    incident="inc-1",
    policy="db-pool",
    target="backend",
    host="node1",
    reason="remediation_failed",
    summary="pool exhausted",
    time=iso(1_700_000_000.0),
    severity="critical",
)
PLAIN = replace(NOTE, severity=None)


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[AuditStore]:
    s = AuditStore(tmp_path / "audit.db", host="node1")
    await s.start()
    yield s
    await s.close()


@pytest.mark.asyncio
async def test_escalator_carries_the_severity_into_the_outbox(store: AuditStore) -> None:
    """The queued notification (read back from its outbox row) keeps the policy's severity."""
    escalator = Escalator({}, store, FakeClock(), "node1")
    escalator.escalate(
        policy="db-pool",
        target="backend",
        incident="inc-1",
        request=Escalate("remediation_failed", "pool exhausted"),
        notify=("oncall",),
        values={},
        severity="warning",
    )
    await escalator.flush()
    await store.flush()
    conn = sqlite3.connect(store.path)
    try:
        (payload,) = conn.execute("SELECT payload FROM outbox").fetchone()
    finally:
        conn.close()
    assert decode(payload).severity == "warning"


def test_an_old_outbox_row_without_severity_still_decodes() -> None:
    """Rows queued before severity existed read back with none."""
    data = PLAIN.to_dict()
    assert "severity" not in data
    assert Notification.from_dict(data) == PLAIN
    assert Notification.from_dict(NOTE.to_dict()) == NOTE


def test_pagerduty_uses_the_policy_severity_over_its_own() -> None:
    """payload.severity is the policy's; the notifier's option only when the policy sets none."""
    assert pagerduty.event(NOTE, "key", "info")["payload"]["severity"] == "critical"
    assert pagerduty.event(PLAIN, "key", "info")["payload"]["severity"] == "info"


def test_slack_leads_with_the_severity_emoji() -> None:
    """An escalation's header and fallback start with the severity's emoji."""
    body = slack.payload(NOTE)
    assert body["text"].startswith(":rotating_light: Escalated: db-pool on backend")
    assert body["blocks"][0]["text"]["text"].startswith(":rotating_light: Escalated")
    assert slack.payload(PLAIN)["text"].startswith("Escalated: db-pool")


def test_email_subject_is_tagged() -> None:
    """The subject carries [CRITICAL] after the prefix; resolves are not tagged."""
    assert email_message.subject(NOTE) == "[medic] [CRITICAL] ESCALATED db-pool on backend (node1)"
    resolve = replace(NOTE, kind="resolve")
    assert email_message.subject(resolve) == "[medic] RESOLVED db-pool on backend (node1)"


def test_webhook_body_has_a_severity_field() -> None:
    """The signed JSON body holds severity when the policy sets it, and no key otherwise."""
    assert json.loads(webhook.encode(NOTE))["severity"] == "critical"
    assert "severity" not in json.loads(webhook.encode(PLAIN))


def test_alertmanager_severity_label_is_the_policy_one() -> None:
    """The policy's severity replaces the default and static severity label."""
    assert alertmanager.labels(NOTE, {"severity": "page"})["severity"] == "critical"
    assert alertmanager.labels(PLAIN, {"severity": "page"})["severity"] == "page"
    assert alertmanager.labels(PLAIN)["severity"] == "critical"
