"""The HTTP API's routes, query parsing, error envelope and server lifecycle."""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from medic import __version__
from medic.api.server import start_api
from medic.errors import ConfigError, MedicError

Client = TestClient[web.Request, web.Application]
DOCS = Path(__file__).parents[2] / "docs" / "api.md"


def assert_envelope(body: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The one error shape: {"error": {status, code, message[, hint]}}."""
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"status", "code", "message"} <= set(error) <= {"status", "code", "message", "hint"}
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    assert re.fullmatch(r"[a-z_]+", error["code"])
    if code is not None:
        assert error["code"] == code
    return dict(error)


async def error_of(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return assert_envelope(await response.json(), status)


@pytest.mark.asyncio
async def test_health_reports_version_host_uptime_and_counts(client: Client) -> None:
    """/health answers 200 with version, host, uptime and policy and rejected-file counts."""
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body.pop("uptime_seconds") == pytest.approx(3600, abs=60)
    assert body == {
        "status": "ok",
        "version": __version__,
        "host": "web-1",
        "policies": 2,
        "rejected_files": 1,
    }


@pytest.mark.asyncio
async def test_metrics_exposes_the_agents_registry(client: Client, view: Any) -> None:
    """/metrics is Prometheus text from the agent's own registry, scheduler lag included."""
    view.metrics.scheduler_lag.observe(0.02)
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert "# TYPE medic_scheduler_lag_seconds histogram" in text
    assert 'medic_scheduler_lag_seconds_bucket{le="0.025"} 1.0' in text


@pytest.mark.asyncio
async def test_policies_lists_live_state_and_rejected_files(client: Client) -> None:
    """/api/v1/policies returns every policy's state and the rejected files."""
    body = await (await client.get("/api/v1/policies")).json()
    assert [p["name"] for p in body["policies"]] == ["web-memory", "disk-full"]
    assert body["policies"][0]["targets"][0]["state"] == "firing"
    assert body["rejected"][0]["file"] == "policies/bad.yaml"


@pytest.mark.asyncio
async def test_one_policy_by_name_or_404(client: Client) -> None:
    """/api/v1/policies/{name} returns that policy, or 404 naming it."""
    one = await (await client.get("/api/v1/policies/disk-full")).json()
    assert one["probe"] == "host.disk"
    error = await error_of(await client.get("/api/v1/policies/nope"), 404)
    assert error["message"] == "no policy named 'nope' is loaded"
    assert error["hint"] == "GET /api/v1/policies lists the loaded policies and the rejected files"


@pytest.mark.asyncio
async def test_incidents_pass_filters_to_the_store(client: Client, view: Any) -> None:
    """open, policy and limit reach the store; the answer carries a count."""
    body = await (await client.get("/api/v1/incidents?open=true&limit=5")).json()
    assert [i["id"] for i in body["incidents"]] == ["inc-2"]
    assert body["count"] == 1
    await client.get("/api/v1/incidents?policy=web-memory")
    assert view.audit.incident_calls == [
        {"open_only": True, "policy": None, "limit": 5},
        {"open_only": False, "policy": "web-memory", "limit": 100},
    ]


@pytest.mark.asyncio
async def test_incident_story_in_time_order_or_404(client: Client) -> None:
    """/api/v1/incidents/{id} returns its events oldest first; an unknown id is 404."""
    body = await (await client.get("/api/v1/incidents/inc-1")).json()
    assert body["incident"] == "inc-1"
    assert [e["kind"] for e in body["events"]] == [
        "incident.detected",
        "incident.fired",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    error = await error_of(await client.get("/api/v1/incidents/inc-404"), 404)
    assert error["message"] == "no audit events for incident 'inc-404'"


@pytest.mark.asyncio
async def test_audit_filters_by_policy_kind_prefix_and_order(client: Client, view: Any) -> None:
    """kind may repeat, be a prefix or comma-separated; order=asc gives oldest first."""
    url = "/api/v1/audit?policy=web-memory&kind=action.&kind=verify.healed&order=asc"
    body = await (await client.get(url)).json()
    assert [e["id"] for e in body["events"]] == [3, 4, 5]
    assert body["count"] == 3
    assert view.audit.queries[-1].kinds == ("action.", "verify.healed")
    await client.get("/api/v1/audit?kind=action.failed,incident&limit=2")
    query = view.audit.queries[-1]
    assert (query.kinds, query.limit, query.order) == (("action.failed", "incident"), 2, "desc")


@pytest.mark.asyncio
async def test_audit_time_bounds_accept_iso_and_durations(client: Client, view: Any) -> None:
    """since/until take ISO times (UTC when no offset is given) or durations meaning ago."""
    before = time.time()
    await client.get("/api/v1/audit?since=24h&until=2030-01-01T00:00:00")
    query = view.audit.queries[-1]
    assert before - 86400 - 1 <= query.since <= time.time() - 86400
    assert query.until == datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    # An unencoded '+' arrives as a space; the offset is still honoured.
    await client.get("/api/v1/audit?since=2023-11-14T23:13:24+01:00")
    assert (
        view.audit.queries[-1].since == datetime(2023, 11, 14, 22, 13, 24, tzinfo=UTC).timestamp()
    )


BAD_PARAMETERS = [
    (
        "/api/v1/audit?limit=abc",
        "limit: 'abc' is not a whole number from 1 to 10000",
        "e.g. limit=100 (the most is 10000)",
    ),
    (
        "/api/v1/audit?limit=10001",
        "limit: '10001' is not a whole number from 1 to 10000",
        "e.g. limit=100 (the most is 10000)",
    ),
    (
        "/api/v1/incidents?limit=0",
        "limit: '0' is not a whole number from 1 to 10000",
        "e.g. limit=100 (the most is 10000)",
    ),
    (
        "/api/v1/audit?since=last-week",
        "since: 'last-week' is neither an ISO time nor a duration",
        "write an ISO time like 2024-05-01T12:00:00Z, a duration ago like 30m, 24h or 7d, "
        "today or yesterday",
    ),
    (
        "/api/v1/audit?since=1h&until=2h",
        "since: is later than until",
        "swap since and until, or leave one of them out",
    ),
    (
        "/api/v1/audit?order=up",
        "order: 'up' is not asc or desc",
        "write order=asc (oldest first) or order=desc (newest first)",
    ),
    (
        "/api/v1/audit?kind=acton.failed",
        "kind: 'acton.failed' is not an audit event kind",
        "did you mean 'action.failed'? write a kind like action.failed, or a prefix ending "
        "in a dot: action., agent., approval., audit., breaker., fleet., incident., notification., "
        "policy., probe., silence., verify.",
    ),
    (
        "/api/v1/audit?polcy=web",
        "polcy: not a parameter of GET /api/v1/audit",
        "use one of: since, until, policy, target, incident, kind, outcome, limit, order",
    ),
    ("/api/v1/audit?policy=a&policy=b", "policy: given 2 times", "give policy once"),
    (
        "/api/v1/incidents?open=maybe",
        "open: 'maybe' is not true or false",
        "write open=true for open incidents only, or false",
    ),
    (
        "/api/v1/incidents/inc-1?verbose=1",
        "verbose: not a parameter of GET /api/v1/incidents/inc-1",
        "use one of: ",
    ),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("url", "message", "hint"), BAD_PARAMETERS)
async def test_bad_query_parameters_are_400_naming_the_fix(
    client: Client, url: str, message: str, hint: str
) -> None:
    """A malformed or unknown parameter is a 400 that names it and says how to write it."""
    error = await error_of(await client.get(url), 400)
    assert (error["code"], error["message"], error["hint"]) == ("bad_parameter", message, hint)


@pytest.mark.asyncio
async def test_reload_returns_the_agents_result(new_view: Any, client_for: Any) -> None:
    """POST /api/v1/reload with the token reloads once and returns what loaded."""
    view = new_view(token="tok")
    client = await client_for(view)
    response = await client.post("/api/v1/reload", headers={"Authorization": "Bearer tok"})
    assert response.status == 200
    assert (await response.json())["loaded"] == ["web-memory", "disk-full"]
    assert view.reloads == 1


@pytest.mark.asyncio
async def test_reload_failure_is_an_envelope_with_the_reason(
    new_view: Any, client_for: Any
) -> None:
    """A reload that raises a MedicError answers 500 reload_failed with its message and hint."""
    view = new_view(token="tok")
    view.fail_with = MedicError("policies/ is not readable", hint="check permissions")
    client = await client_for(view)
    response = await client.post("/api/v1/reload", headers={"Authorization": "Bearer tok"})
    error = await error_of(response, 500)
    assert error == {
        "status": 500,
        "code": "reload_failed",
        "message": "reload failed: policies/ is not readable",
        "hint": "check permissions",
    }


@pytest.mark.asyncio
async def test_unexpected_exception_is_logged_and_leaks_nothing(client: Client, view: Any) -> None:
    """A bug in a handler answers a bare 500 envelope; the traceback goes to the log only."""
    view.fail_with = RuntimeError("internal detail /etc/secret")
    with capture_logs() as logs:
        response = await client.get("/api/v1/policies")
        text = await response.text()
    assert response.status == 500
    assert "internal detail" not in text and "Traceback" not in text
    assert_envelope(await response.json(), 500, "internal_error")
    logged = [e for e in logs if e["event"] == "api.unhandled_error"]
    assert logged and logged[0]["path"] == "/api/v1/policies" and logged[0]["exc_info"]


@pytest.mark.asyncio
async def test_every_route_answers_errors_in_the_one_envelope(client: Client) -> None:
    """Walk every route: wrong method, bad input, unknown paths all give the envelope."""
    routes = (await (await client.get("/api/v1/")).json())["routes"]
    assert len(routes) >= 10
    for route in routes:
        path = route["path"].replace("{name}", "nope").replace("{incident}", "nope")
        path = path.replace("{file}", "missing.js").replace("{silence}", "nope")
        path = path.replace("{token}", "nope")
        wrong = "PATCH"
        response = await client.request(wrong, path)
        error = await error_of(response, 405)
        assert error["message"] == f"PATCH is not allowed on {path}"
        assert route["method"] in response.headers["Allow"]
        if path.startswith("/links/"):  # a page for a phone, by design: HTML, not JSON
            response = await client.request(route["method"], path)
            assert (response.status, response.content_type) == (403, "text/html")
            continue
        # Bad input on the right method: an unknown id, file or parameter.
        if route["method"] == "GET" and path != route["path"]:
            await error_of(await client.get(path), 404)
        if route["method"] == "GET" and path.startswith(
            ("/api/v1/incidents", "/api/v1/audit", "/api/v1/review")
        ):
            await error_of(await client.get(path + "?bogus=1"), 400)
        if route["method"] == "POST":
            await error_of(await client.post(path), 403)
    for unknown in ("/nope", "/api/v1/nope", "/api/v2/policies", "/static/../pyproject.toml"):
        error = await error_of(await client.get(unknown), 404)
        assert error["hint"] == "GET /api/v1/ lists every route"


@pytest.mark.asyncio
async def test_introspection_lists_routes_with_descriptions(client: Client) -> None:
    """/api/v1/ lists method, path, description and token rule for every route."""
    body = await (await client.get("/api/v1/")).json()
    assert body["auth"] == {"loopback": True, "token_configured": False}
    by_key = {(r["method"], r["path"]): r for r in body["routes"]}
    assert set(by_key) == {
        ("GET", "/health"),
        ("GET", "/metrics"),
        ("GET", "/"),
        ("GET", "/api/v1/"),
        ("GET", "/static/{file}"),
        ("GET", "/api/v1/policies"),
        ("GET", "/api/v1/policies/{name}"),
        ("GET", "/api/v1/incidents"),
        ("GET", "/api/v1/incidents/{incident}"),
        ("GET", "/api/v1/audit"),
        ("POST", "/api/v1/reload"),
        ("POST", "/api/v1/alertmanager"),
        ("GET", "/api/v1/silences"),
        ("POST", "/api/v1/silences"),
        ("DELETE", "/api/v1/silences/{silence}"),
        ("POST", "/api/v1/incidents/{incident}/approve"),
        ("POST", "/api/v1/incidents/{incident}/deny"),
        ("POST", "/api/v1/incidents/{incident}/ack"),
        ("GET", "/links/{token}"),
        ("POST", "/links/{token}"),
        ("GET", "/api/v1/review/overview"),
        ("GET", "/api/v1/review/incidents"),
        ("GET", "/api/v1/review/incidents/{incident}"),
    }
    assert all(r["description"].endswith(".") for r in body["routes"])
    assert [k for k, r in by_key.items() if r["token_required"]] == [
        ("POST", "/api/v1/reload"),
        ("POST", "/api/v1/alertmanager"),
        ("POST", "/api/v1/silences"),
        ("DELETE", "/api/v1/silences/{silence}"),
        ("POST", "/api/v1/incidents/{incident}/approve"),
        ("POST", "/api/v1/incidents/{incident}/deny"),
        ("POST", "/api/v1/incidents/{incident}/ack"),
    ]


@pytest.mark.asyncio
async def test_every_route_is_documented(client: Client) -> None:
    """docs/api.md names every route the API serves, with its method."""
    docs = DOCS.read_text()
    for route in (await (await client.get("/api/v1/")).json())["routes"]:
        assert f"{route['method']} {route['path']}" in docs, route


@pytest.mark.asyncio
async def test_web_page_and_its_files_are_served(client: Client) -> None:
    """GET / is the audit page with its stable ids; /static serves its script and styles."""
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    html = await response.text()
    for element in ("incidents", "overview", "timeline", "chart", "filter-policy", "token"):
        assert f'id="{element}"' in html
    script = await client.get("/static/app.js")
    assert script.status == 200
    assert "sessionStorage" in await script.text()
    assert (await client.get("/static/style.css")).status == 200


@pytest.mark.integration
@pytest.mark.asyncio
async def test_server_binds_port_zero_logs_requests_and_stops(new_view: Any) -> None:
    """start_api on port 0 reports its real port, logs through structlog, frees it on stop."""
    view = new_view(token="tok-never-logged")
    with capture_logs() as logs:
        server = await start_api(view)
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": "Bearer tok-never-logged"}
            async with session.get(f"{server.url}/health?x=1", headers=headers) as response:
                assert response.status == 200
            async with session.post(f"{server.url}/api/v1/reload", headers=headers) as response:
                assert response.status == 200
        await server.stop()
    access = [e for e in logs if e["event"] == "api.request"]
    assert [(e["method"], e["path"], e["status"]) for e in access] == [
        ("GET", "/health", 200),
        ("POST", "/api/v1/reload", 200),
    ]
    assert access[0]["query"] == "x=1"
    assert "tok-never-logged" not in repr(logs)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", server.port))  # the port is free again


@pytest.mark.integration
@pytest.mark.asyncio
async def test_server_on_a_busy_port_is_a_config_error(new_view: Any) -> None:
    """A port already in use raises ConfigError naming the address and the fix."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError) as caught:
            await start_api(new_view(port=port))
    assert caught.value.message == (
        f"the API address 127.0.0.1:{port} is already in use (is another medic running?)"
    )
    assert caught.value.hint == (
        "change api.listen in the agent config or pass --listen; or set api.enabled: false"
    )


@pytest.mark.asyncio
async def test_audit_query_takes_today_and_policy_globs(new_view: Any, client_for: Any) -> None:
    """GET /api/v1/audit?since=today&policy=web-* answers 200 (the API shares bounds.when)."""
    client = await client_for(new_view())
    response = await client.get("/api/v1/audit?since=today&until=today&policy=web-*")
    assert response.status == 200, await response.text()
    assert (await response.json())["count"] == 0
