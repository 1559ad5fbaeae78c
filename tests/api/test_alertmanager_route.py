"""POST /api/v1/alertmanager: Alertmanager's webhook into the alert book, or one clear error."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_asyncio

from kit.api_fakes import Client, ClientFactory, ViewFactory
from medic import alerts
from medic.api.auth import NO_TOKEN_HINT
from medic.api.routes_alertmanager import MAX_BODY, PATH

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# What Alertmanager 0.25 posts, field for field.
PAYLOAD: dict[str, Any] = {
    "receiver": "medic",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DemoBroken", "instance": "127.0.0.1:9100", "job": "demo"},
            "annotations": {"summary": "the demo is broken"},
            "startsAt": "2024-05-01T03:00:12.345678901Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom:9090/graph?g0.expr=demo_broken+%3D%3D+1",
            "fingerprint": "5f3b0c1d2e4a6b7c",
        }
    ],
    "groupLabels": {"alertname": "DemoBroken"},
    "commonLabels": {"alertname": "DemoBroken", "instance": "127.0.0.1:9100", "job": "demo"},
    "commonAnnotations": {"summary": "the demo is broken"},
    "externalURL": "http://am:9093",
    "version": "4",
    "groupKey": '{}:{alertname="DemoBroken"}',
    "truncatedAlerts": 0,
}
STARTS = 1714532412.345678


@pytest.fixture(autouse=True)
def empty_book() -> Iterator[None]:
    """Each test starts and ends with an empty agent book."""
    alerts.BOOK.clear()
    yield
    alerts.BOOK.clear()


@pytest_asyncio.fixture
async def authed(new_view: ViewFactory, client_for: ClientFactory) -> Client:
    """A client of an agent that has an API token."""
    return await client_for(new_view(token=TOKEN))


def payload(**alert_changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(PAYLOAD)
    body["alerts"][0].update(alert_changes)
    return body


async def error_of(client: Client, body: Any, status: int = 400) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = await client.post(PATH, data=data, headers=AUTH)
    assert response.status == status, await response.text()
    return dict((await response.json())["error"])


@pytest.mark.asyncio
async def test_firing_then_resolved_alerts_land_in_the_book(authed: Client) -> None:
    """A firing alert is recorded with its fields; the resolve replaces it."""
    response = await authed.post(PATH, json=PAYLOAD, headers=AUTH)
    assert response.status == 200
    assert await response.json() == {"accepted": 1}
    held = alerts.BOOK.get("5f3b0c1d2e4a6b7c")
    assert held is not None
    assert (held.status, held.name, held.ends_at) == ("firing", "DemoBroken", None)
    assert held.starts_at == pytest.approx(STARTS)
    assert held.annotations == {"summary": "the demo is broken"}
    assert held.generator_url.startswith("http://prom:9090/graph")
    resolved = payload(status="resolved", endsAt="2024-05-01T03:05:00Z")
    assert (await authed.post(PATH, json=resolved, headers=AUTH)).status == 200
    held = alerts.BOOK.get("5f3b0c1d2e4a6b7c")
    assert held is not None and held.status == "resolved" and held.ends_at == 1714532700.0


@pytest.mark.asyncio
async def test_an_alert_without_fingerprint_gets_one_from_its_labels(authed: Client) -> None:
    """Senders older than Alertmanager 0.19 send no fingerprint; the labels give a stable one."""
    body = payload()
    del body["alerts"][0]["fingerprint"]
    for _ in range(2):
        assert (await authed.post(PATH, json=body, headers=AUTH)).status == 200
    (held,) = alerts.BOOK.alerts()
    assert len(held.fingerprint) == 16


@pytest.mark.asyncio
async def test_the_webhook_needs_the_token(authed: Client) -> None:
    """Without the bearer token the alerts are refused (401) and nothing is recorded."""
    response = await authed.post(PATH, json=PAYLOAD)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(alerts.BOOK) == 0


@pytest.mark.asyncio
async def test_an_agent_without_token_refuses_the_webhook(client: Client) -> None:
    """An agent with no token configured answers 403 with the config hint."""
    response = await client.post(PATH, json=PAYLOAD, headers=AUTH)
    assert response.status == 403
    assert (await response.json())["error"]["hint"] == NO_TOKEN_HINT


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "the body is not JSON: Expecting property name enclosed in double "
         "quotes: line 1 column 2 (char 1)"),
        ([1, 2], "the body must be a JSON object (Alertmanager's webhook payload)"),
        ({**PAYLOAD, "version": "3"},
         "version: '3' is not supported; Medic reads webhook payload version '4'"),
        ({**PAYLOAD, "alerts": {"a": 1}}, "alerts: must be a list"),
        ({**PAYLOAD, "alerts": ["x"]}, "alerts[0]: must be an object"),
        (payload(status="pending"), "alerts[0].status: must be firing or resolved, not 'pending'"),
        (payload(labels={}), "alerts[0].labels: must be a non-empty object of strings"),
        (payload(labels={"alertname": "A", "n": 1}),
         "alerts[0].labels.n: must be a string, not int"),
        (payload(annotations=["x"]), "alerts[0].annotations: must be an object of strings"),
        (payload(startsAt="yesterday"), "alerts[0].startsAt: 'yesterday' is not an RFC 3339 time"),
        (payload(endsAt="2024-05-01T03:00:00"),
         "alerts[0].endsAt: '2024-05-01T03:00:00' has no time zone (end it with Z or +00:00)"),
        (payload(endsAt=5), "alerts[0].endsAt: must be an RFC 3339 time string, not int"),
        (payload(fingerprint=["x"]),
         "alerts[0].fingerprint: must be a string of at most 128 characters"),
        (payload(generatorURL=3), "alerts[0].generatorURL: must be a string"),
    ],
)  # fmt: skip
async def test_malformed_payloads_are_refused_naming_the_field(
    authed: Client, body: Any, message: str
) -> None:
    """A bad payload is a 400 bad_payload naming the field; nothing of it is recorded."""
    error = await error_of(authed, body)
    assert error == {
        "status": 400,
        "code": "bad_payload",
        "message": message,
        "hint": "point an Alertmanager webhook_configs receiver here (docs/alertmanager.md)",
    }
    assert len(alerts.BOOK) == 0


@pytest.mark.asyncio
async def test_a_bad_alert_late_in_the_group_records_none_of_it(authed: Client) -> None:
    """The payload is checked whole before anything is written into the book."""
    body = copy.deepcopy(PAYLOAD)
    body["alerts"].append({"status": "firing", "labels": {"alertname": "B"}, "startsAt": "x"})
    error = await error_of(authed, body)
    assert error["message"] == "alerts[1].startsAt: 'x' is not an RFC 3339 time"
    assert len(alerts.BOOK) == 0


@pytest.mark.asyncio
async def test_a_body_over_the_limit_is_refused_with_413(authed: Client) -> None:
    """More than 1 MiB is refused in the envelope, with a hint about max_alerts."""
    body = payload(annotations={"description": "x" * MAX_BODY})
    error = await error_of(authed, body, status=413)
    assert error == {
        "status": 413,
        "code": "payload_too_large",
        "message": "the body is larger than 1.0 MiB",
        "hint": "set max_alerts on the webhook receiver so a notification stays smaller",
    }


@pytest.mark.asyncio
async def test_a_chunked_body_over_the_limit_is_refused_too(authed: Client) -> None:
    """Without Content-Length the limit is enforced while reading."""

    async def chunks() -> Any:
        for _ in range(20):
            yield b" " * 65536

    response = await authed.post(PATH, data=chunks(), headers=AUTH)
    assert response.status == 413


@pytest.mark.asyncio
async def test_a_group_bigger_than_the_usual_api_limit_is_accepted(authed: Client) -> None:
    """A 300-alert group (~100 KiB, over the API's 64 KiB default) is taken whole."""
    body = copy.deepcopy(PAYLOAD)
    template = body["alerts"][0]
    body["alerts"] = [
        {**template, "fingerprint": f"{i:016x}", "labels": {**template["labels"], "n": str(i)}}
        for i in range(300)
    ]
    assert len(json.dumps(body)) > 64 * 1024
    response = await authed.post(PATH, json=body, headers=AUTH)
    assert await response.json() == {"accepted": 300}
    assert len(alerts.BOOK) == 300


@pytest.mark.asyncio
async def test_the_route_is_listed_as_needing_the_token(authed: Client) -> None:
    """Introspection lists the webhook, with its description, as token-only."""
    routes = (await (await authed.get("/api/v1/")).json())["routes"]
    (route,) = [r for r in routes if r["path"] == PATH]
    assert route == {
        "method": "POST",
        "path": PATH,
        "description": (
            "Alertmanager's webhook: record the alerts it posts for alertmanager probes."
        ),
        "token_required": True,
    }
