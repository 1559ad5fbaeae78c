"""The `pagerduty` notifier against a local Events API v2 that validates every event."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio

from kit.notifications import ESCALATION as SAMPLE
from kit.notifications import INCIDENT, ONE_FAILURE
from kit.receivers import PAGERDUTY_KEY, Receiver, pagerduty_app, pagerduty_problems, serving
from medic import __version__
from medic.errors import ConfigError, NotifyError
from medic.notify import notifiers
from medic.notify.pagerduty import PagerDutyNotifier, dedup_key

LINK = "https://medic.node1.example:9325"

ESCALATION = replace(SAMPLE, values={"running": False, "restarts": 2}, history=ONE_FAILURE)
RESOLVE = replace(ESCALATION, kind="resolve", reason="healed", summary="healed", history=())


@pytest_asyncio.fixture
async def pagerduty(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    """An Events API v2 endpoint on 127.0.0.1; the routing key is in $PD_KEY."""
    rec = Receiver()
    async with serving(pagerduty_app(rec)) as url:
        rec.url = url + "/v2/enqueue"
        monkeypatch.setenv("PD_KEY", PAGERDUTY_KEY)
        yield rec


def notifier(rec: Receiver, **options: object) -> PagerDutyNotifier:
    return PagerDutyNotifier("pager", {"routing_key": {"env": "PD_KEY"}, "url": rec.url, **options})


def assert_no_key(exc: NotifyError) -> None:
    """The routing key is nowhere in the error."""
    assert PAGERDUTY_KEY not in str(exc) + json.dumps(exc.to_dict(), default=str)


def test_registered_under_its_name() -> None:
    """The registry maps `pagerduty` to PagerDutyNotifier."""
    assert notifiers.get("pagerduty") is PagerDutyNotifier


@pytest.mark.integration
@pytest.mark.asyncio
async def test_trigger_event(pagerduty: Receiver) -> None:
    """An escalation is a trigger keyed by the incident id, with details and links."""
    await notifier(pagerduty, severity="critical", link_base=LINK).send(ESCALATION)
    [seen] = pagerduty.requests
    assert seen.problems == []
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == f"medic/{__version__}"
    assert seen.json == {
        "routing_key": PAGERDUTY_KEY,
        "event_action": "trigger",
        "dedup_key": INCIDENT,
        "payload": {
            "summary": "Escalated: node-process-down on xai-node (node1): "
            "xai-node still not running after 2 attempts",
            "source": "node1",
            "severity": "critical",
            "timestamp": "2024-05-01T03:00:12.000000Z",
            "component": "xai-node",
            "group": "node-process-down",
            "class": "remediation_failed",
            "custom_details": {
                "summary": "xai-node still not running after 2 attempts",
                "incident": INCIDENT,
                "reason": "remediation_failed",
                "values": {"running": False, "restarts": 2},
                "history": ["1. command: failed - exited 1"],
            },
        },
        "client": "Medic",
        "client_url": LINK,
        "links": [
            {"href": f"{LINK}/#incident={INCIDENT}", "text": "Incident in Medic"},
            {"href": f"{LINK}/api/v1/incidents/{INCIDENT}", "text": "Incident (API)"},
        ],
    }


@pytest.mark.integration
@pytest.mark.asyncio
async def test_resolve_event(pagerduty: Receiver) -> None:
    """A resolve carries only the routing key, the action and the same dedup key."""
    await notifier(pagerduty, link_base=LINK).send(RESOLVE)
    [seen] = pagerduty.requests
    assert seen.problems == []
    assert seen.json == {
        "routing_key": PAGERDUTY_KEY,
        "event_action": "resolve",
        "dedup_key": INCIDENT,
    }


@pytest.mark.integration
@pytest.mark.asyncio
async def test_defaults_and_limits(pagerduty: Receiver) -> None:
    """Severity defaults to error; a huge summary is cut to 1024 characters; no links
    without link_base; a notification without an incident still gets a stable key."""
    big = replace(ESCALATION, incident="", summary="s" * 5000)
    await notifier(pagerduty).send(big)
    [seen] = pagerduty.requests
    assert seen.problems == []
    event = seen.json
    assert event["payload"]["severity"] == "error"
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["summary"].endswith("…")
    assert "links" not in event
    assert "client_url" not in event
    assert event["dedup_key"] == "medic/node1/node-process-down/xai-node"
    assert dedup_key(big) == event["dedup_key"]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_oversized_details_are_dropped(pagerduty: Receiver) -> None:
    """Values too big for the 512 KB limit are replaced by a note, and the event is sent."""
    huge = replace(ESCALATION, values={"body": "x" * 600_000})
    await notifier(pagerduty).send(huge)
    [seen] = pagerduty.requests
    assert seen.problems == []
    details = seen.json["payload"]["custom_details"]
    assert "values" not in details
    assert details["truncated"] == (
        "values and history exceed the Events API size limit; see the incident in Medic"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_invalid_event_lists_errors(
    pagerduty: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 400 names PagerDuty's errors, is not retryable and does not show the key."""
    monkeypatch.setenv("PD_KEY", "short-key")
    with pytest.raises(NotifyError) as caught:
        await notifier(pagerduty).send(ESCALATION)
    exc = caught.value
    assert exc.message == (
        "pagerduty pager: PagerDuty answered 400: Event object is invalid: "
        "Length of 'routing_key' is incorrect (should be 32 characters)"
    )
    assert exc.hint == "routing_key must be the 32-character key of an Events API v2 integration"
    assert exc.fields["errors"] == [
        "Length of 'routing_key' is incorrect (should be 32 characters)"
    ]
    assert exc.fields["retryable"] is False
    assert "short-key" not in str(exc)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_throttled_is_retryable(pagerduty: Receiver) -> None:
    """429 is retryable and carries Retry-After in seconds."""
    body = json.dumps({"status": "throttle event", "message": "Requests are arriving too fast"})
    pagerduty.reply = (429, body, {"Retry-After": "60", "Content-Type": "application/json"})
    with pytest.raises(NotifyError) as caught:
        await notifier(pagerduty).send(ESCALATION)
    exc = caught.value
    assert exc.message == "pagerduty pager: PagerDuty answered 429: Requests are arriving too fast"
    assert exc.fields["retryable"] is True
    assert exc.fields["retry_after"] == 60.0
    assert_no_key(exc)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_server_error_is_retryable(pagerduty: Receiver) -> None:
    """A 5xx with a non-JSON body is retryable and quotes the body's start."""
    pagerduty.reply = (502, "Bad Gateway " + PAGERDUTY_KEY, {})
    with pytest.raises(NotifyError) as caught:
        await notifier(pagerduty).send(ESCALATION)
    assert (
        caught.value.message == "pagerduty pager: PagerDuty answered 502: Bad Gateway [routing_key]"
    )
    assert caught.value.fields["retryable"] is True
    assert_no_key(caught.value)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_timeout(pagerduty: Receiver) -> None:
    """An endpoint that does not answer fails at the timeout, retryable."""
    pagerduty.delay = 5
    with pytest.raises(NotifyError) as caught:
        await notifier(pagerduty, timeout=0.2).send(ESCALATION)
    assert caught.value.message == (f"pagerduty pager: {pagerduty.url} did not answer within 200ms")
    assert caught.value.fields["retryable"] is True
    assert_no_key(caught.value)


@pytest.mark.asyncio
async def test_unset_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset routing-key variable fails the delivery before anything is sent."""
    monkeypatch.delenv("PD_KEY", raising=False)
    with pytest.raises(NotifyError) as caught:
        await PagerDutyNotifier("pager", {"routing_key": {"env": "PD_KEY"}}).send(ESCALATION)
    assert (
        caught.value.message
        == "pagerduty pager: routing_key: environment variable PD_KEY is not set"
    )


def test_options_are_checked() -> None:
    """An unknown severity is refused with the valid choices."""
    with pytest.raises(ConfigError) as caught:
        PagerDutyNotifier("pager", {"routing_key": {"env": "PD_KEY"}, "severity": "high"})
    assert caught.value.message == (
        "notifiers.pager.severity: 'high' is not one of ['critical', 'error', 'warning', 'info']"
    )


def test_receiver_rejects_what_pagerduty_rejects() -> None:
    """The test receiver is strict: unknown keys, a bad severity and no source are refused."""
    event = {
        "routing_key": PAGERDUTY_KEY,
        "event_action": "trigger",
        "severity": "error",
        "payload": {"summary": "x", "severity": "fatal", "timestamp": "yesterday"},
    }
    assert pagerduty_problems(json.dumps(event).encode()) == [
        "unknown field 'severity'",
        "'payload.source' is missing or blank",
        "'payload.severity' is invalid (must be one of: critical, error, warning, info)",
        "'payload.timestamp' is not an ISO 8601 timestamp",
    ]
