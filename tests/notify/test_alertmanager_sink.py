"""The `alertmanager` notifier against a local Alertmanager API v2 that validates alerts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio

from kit.notifications import ESCALATION as SAMPLE
from kit.notifications import INCIDENT, ONE_FAILURE
from kit.receivers import Receiver, alertmanager_app, alertmanager_problems, serving
from medic import __version__
from medic.errors import ConfigError, NotifyError
from medic.notify import notifiers
from medic.notify.alertmanager import AlertmanagerNotifier

LINK = "https://medic.node1.example:9325"

ESCALATION = replace(SAMPLE, values={"running": False}, history=ONE_FAILURE)
RESOLVE = replace(
    ESCALATION,
    kind="resolve",
    reason="healed",
    summary="healed by remediation",
    time="2024-05-01T03:20:00.000000Z",
    values={},
    history=(),
)
LABELS = {
    "alertname": "MedicEscalation",
    "severity": "critical",
    "team": "storage",
    "policy": "node-process-down",
    "target": "xai-node",
    "host": "node1",
    "incident": INCIDENT,
}


@pytest_asyncio.fixture
async def alertmanager() -> AsyncIterator[Receiver]:
    """An Alertmanager API v2 on 127.0.0.1 (only POST /api/v2/alerts)."""
    rec = Receiver()
    async with serving(alertmanager_app(rec)) as url:
        rec.url = url
        yield rec


def notifier(rec: Receiver, **options: object) -> AlertmanagerNotifier:
    return AlertmanagerNotifier("team-am", {"url": rec.url, **options})


def test_registered_under_its_name() -> None:
    """The registry maps `alertmanager` to AlertmanagerNotifier."""
    assert notifiers.get("alertmanager") is AlertmanagerNotifier


@pytest.mark.integration
@pytest.mark.asyncio
async def test_escalation_alert(alertmanager: Receiver) -> None:
    """An escalation is one postable alert: labels, annotations, times, generatorURL."""
    await notifier(alertmanager, labels={"team": "storage"}, link_base=LINK).send(ESCALATION)
    [seen] = alertmanager.requests
    assert seen.problems == []
    assert seen.path == "/api/v2/alerts"
    assert seen.headers["User-Agent"] == f"medic/{__version__}"
    [alert] = seen.json
    description = alert["annotations"].pop("description")
    assert alert == {
        "labels": LABELS,
        "annotations": {
            "summary": "xai-node still not running after 2 attempts",
            "reason": "remediation_failed",
        },
        "startsAt": "2024-05-01T03:00:12.000000Z",
        "endsAt": "2024-05-02T03:00:12.000000Z",
        "generatorURL": f"{LINK}/#incident={INCIDENT}",
    }
    assert description.startswith("Escalated: node-process-down on xai-node (node1)\n\n")
    assert "What was tried:\n  1. command: failed - exited 1\n" in description
    assert f"Incident (API): {LINK}/api/v1/incidents/{INCIDENT}\n" in description


@pytest.mark.integration
@pytest.mark.asyncio
async def test_resolve_ends_the_same_alert(alertmanager: Receiver) -> None:
    """A resolve posts the same labels with endsAt at the resolve time and no startsAt."""
    am = notifier(alertmanager, labels={"team": "storage"}, expire_after="2h")
    await am.send(ESCALATION)
    await am.send(RESOLVE)
    first, second = (r.json[0] for r in alertmanager.requests)
    assert [r.problems for r in alertmanager.requests] == [[], []]
    assert first["endsAt"] == "2024-05-01T05:00:12.000000Z"
    assert second["labels"] == first["labels"] == LABELS
    assert "startsAt" not in second
    assert second["endsAt"] == "2024-05-01T03:20:00.000000Z"
    assert second["annotations"]["summary"] == "healed by remediation"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_token_and_headers(alertmanager: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """The token is a bearer header and header values may be secret references."""
    monkeypatch.setenv("AM_TOKEN", "tok-123")
    monkeypatch.setenv("AM_TENANT", "tenant-9")
    await notifier(
        alertmanager,
        token={"env": "AM_TOKEN"},
        headers={"X-Scope-OrgID": {"env": "AM_TENANT"}, "X-Team": "storage", "User-Agent": "x"},
    ).send(ESCALATION)
    headers = alertmanager.last.headers
    assert headers["Authorization"] == "Bearer tok-123"
    assert headers["X-Scope-OrgID"] == "tenant-9"
    assert headers["X-Team"] == "storage"
    assert headers["User-Agent"] == f"medic/{__version__}"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_labels_may_rename_the_alert(alertmanager: Receiver) -> None:
    """Static labels can replace alertname and severity, not Medic's identity labels."""
    await notifier(
        alertmanager, labels={"alertname": "NodeSelfHealFailed", "severity": "page"}
    ).send(replace(ESCALATION, incident=""))
    assert alertmanager.last.json[0]["labels"] == {
        "alertname": "NodeSelfHealFailed",
        "severity": "page",
        "policy": "node-process-down",
        "target": "xai-node",
        "host": "node1",
    }
    with pytest.raises(ConfigError) as caught:
        notifier(alertmanager, labels={"host": "other", "incident": "x"})
    assert caught.value.message == (
        "notifiers.team-am.labels: host, incident is set by Medic on every alert"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_rejected_alert_is_reported(alertmanager: Receiver) -> None:
    """A 400 shows Alertmanager's message, unquoted, and is not retryable."""
    alertmanager.reply = (400, json.dumps("start time must be before end time"), {})
    with pytest.raises(NotifyError) as caught:
        await notifier(alertmanager).send(ESCALATION)
    exc = caught.value
    assert exc.message == (
        f"alertmanager team-am: {alertmanager.url}/api/v2/alerts answered 400: "
        "start time must be before end time"
    )
    assert exc.fields["retryable"] is False


@pytest.mark.integration
@pytest.mark.asyncio
async def test_unavailable_is_retryable(alertmanager: Receiver) -> None:
    """A 503 is retryable; a password in the URL is masked in the message."""
    alertmanager.reply = (503, "", {})
    url = alertmanager.url.replace("http://", "http://medic:hunter2@")
    with pytest.raises(NotifyError) as caught:
        await AlertmanagerNotifier("team-am", {"url": url}).send(ESCALATION)
    exc = caught.value
    assert exc.message == (
        f"alertmanager team-am: {url.replace('hunter2', '***')}/api/v2/alerts "
        "answered 503: (empty body)"
    )
    assert exc.fields["retryable"] is True


@pytest.mark.asyncio
async def test_unset_token(alertmanager: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset token variable fails the delivery before anything is sent."""
    monkeypatch.delenv("AM_TOKEN", raising=False)
    with pytest.raises(NotifyError) as caught:
        await notifier(alertmanager, token={"env": "AM_TOKEN"}).send(ESCALATION)
    assert (
        caught.value.message
        == "alertmanager team-am: token: environment variable AM_TOKEN is not set"
    )
    assert alertmanager.requests == []


def test_options_are_checked() -> None:
    """Label names must be Prometheus label names."""
    with pytest.raises(ConfigError) as caught:
        AlertmanagerNotifier("team-am", {"url": "http://am:9093", "labels": {"a-b": "c"}})
    assert caught.value.message == (
        "notifiers.team-am.labels: 'a-b' does not match '^[A-Za-z_][A-Za-z0-9_]*$'"
    )


def test_receiver_rejects_what_alertmanager_rejects() -> None:
    """The test receiver is strict: no labels, non-string values, bad times are refused."""
    body = [
        {"annotations": {"summary": "x"}},
        {"labels": {"a": 1}, "startsAt": "2024-05-01 03:00", "endsAt": "2024-05-01T03:00:00Z"},
        {
            "labels": {"a": "b"},
            "startsAt": "2024-05-02T00:00:00Z",
            "endsAt": "2024-05-01T00:00:00Z",
        },
    ]
    assert alertmanager_problems(json.dumps(body).encode()) == [
        "[0].labels in body is required",
        "[0].labels must be an object",
        "[1].labels.a: must be a string",
        "[1].startsAt must be a RFC3339 date-time",
        "start time must be before end time",
    ]
