"""The API's token rules: state changes always need it, everything does beyond loopback."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from medic.api.auth import NO_TOKEN_HINT, token_required
from medic.config import ApiConfig

TOKEN = "s3cret-token-value"
GOOD = {"Authorization": f"Bearer {TOKEN}"}


async def envelope(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return dict(body["error"])


@pytest.mark.asyncio
async def test_loopback_reads_need_no_token(new_view: Any, client_for: Any) -> None:
    """On loopback, GET routes answer without a token even when one is configured."""
    client = await client_for(new_view(token=TOKEN))
    for path in ("/health", "/metrics", "/api/v1/policies", "/api/v1/audit", "/api/v1/"):
        assert (await client.get(path)).status == 200, path


@pytest.mark.asyncio
async def test_state_change_without_configured_token_is_403(new_view: Any, client_for: Any) -> None:
    """With no token configured, POST /api/v1/reload is refused with 403 and the fix."""
    view = new_view()
    client = await client_for(view)
    error = await envelope(await client.post("/api/v1/reload"), 403)
    assert error == {
        "status": 403,
        "code": "forbidden",
        "message": "POST /api/v1/reload needs an API token and the agent has none",
        "hint": NO_TOKEN_HINT,
    }
    assert view.reloads == 0


@pytest.mark.asyncio
async def test_state_change_needs_the_right_token(new_view: Any, client_for: Any) -> None:
    """POST without a token or with a wrong one is 401 with a Bearer challenge; right is 200."""
    view = new_view(token=TOKEN)
    client = await client_for(view)
    missing = await client.post("/api/v1/reload")
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="medic"'
    error = await envelope(missing, 401)
    assert error["message"] == "this request needs a bearer token and sent none"
    assert error["hint"] == (
        "send the header 'Authorization: Bearer <token>' with the agent's API token"
        "; on the agent's host it is in $MEDIC_API_TOKEN"
    )
    wrong = await client.post("/api/v1/reload", headers={"Authorization": "Bearer nope"})
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer ")
    assert (await envelope(wrong, 401))[
        "message"
    ] == "the bearer token is not the agent's API token"
    basic = await client.post("/api/v1/reload", headers={"Authorization": f"Basic {TOKEN}"})
    await envelope(basic, 401)
    assert view.reloads == 0
    lower = await client.post("/api/v1/reload", headers={"Authorization": f"bearer {TOKEN}"})
    assert lower.status == 200
    assert view.reloads == 1


@pytest.mark.asyncio
async def test_beyond_loopback_every_route_needs_the_token(new_view: Any, client_for: Any) -> None:
    """Bound beyond loopback, every data route (even /health and unknown paths) needs it."""
    client = await client_for(new_view(host="0.0.0.0", token=TOKEN))
    paths = ["/health", "/metrics", "/api/v1/", "/api/v1/policies", "/api/v1/policies/x"]
    paths += ["/api/v1/incidents", "/api/v1/incidents/inc-1", "/api/v1/audit", "/nope"]
    for path in paths:
        response = await client.get(path)
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="medic"', path
        await envelope(response, 401)
        assert (await client.get(path, headers=GOOD)).status in {200, 404}, path
    # Method errors come after the token check too: no route map for strangers.
    await envelope(await client.delete("/api/v1/policies"), 401)
    await envelope(await client.delete("/api/v1/policies", headers=GOOD), 405)


@pytest.mark.asyncio
async def test_beyond_loopback_the_page_shell_loads_without_token(
    new_view: Any, client_for: Any
) -> None:
    """The page and its static files hold no data and load without a token (the page asks)."""
    client = await client_for(new_view(host="0.0.0.0", token=TOKEN))
    for path in ("/", "/static/app.js", "/static/style.css"):
        assert (await client.get(path)).status == 200, path


@pytest.mark.asyncio
async def test_beyond_loopback_without_configured_token_is_403(
    new_view: Any, client_for: Any
) -> None:
    """A non-loopback view with no token (the config loader forbids it) still refuses: 403."""
    client = await client_for(new_view(host="10.1.2.3"))
    error = await envelope(await client.get("/health"), 403)
    assert error["hint"] == NO_TOKEN_HINT


@pytest.mark.asyncio
async def test_introspection_reports_the_token_rule(new_view: Any, client_for: Any) -> None:
    """/api/v1/ says which routes need the token for the config the agent runs with."""
    client = await client_for(new_view(host="0.0.0.0", token=TOKEN))
    body = await (await client.get("/api/v1/", headers=GOOD)).json()
    assert body["auth"] == {"loopback": False, "token_configured": True}
    free = sorted(r["path"] for r in body["routes"] if not r["token_required"])
    assert free == ["/", "/links/{token}", "/links/{token}", "/static/{file}"]


@pytest.mark.asyncio
async def test_the_token_is_never_logged(new_view: Any, client_for: Any) -> None:
    """Neither a right nor a wrong token appears in any log line."""
    view = new_view(token=TOKEN)
    view.fail_with = RuntimeError("boom")
    client = await client_for(view)
    with capture_logs() as logs:
        await client.post("/api/v1/reload", headers={"Authorization": "Bearer wrong-token-xyz"})
        await client.get("/api/v1/policies", headers=GOOD)  # fails, logs a traceback
    assert logs, "the failing request should have been logged"
    assert TOKEN not in repr(logs) and "wrong-token-xyz" not in repr(logs)


@pytest.mark.parametrize(
    ("method", "path", "host", "expected"),
    [
        ("GET", "/api/v1/audit", "127.0.0.1", False),
        ("HEAD", "/health", "127.0.0.1", False),
        ("POST", "/api/v1/reload", "127.0.0.1", True),
        ("DELETE", "/anything", "::1", True),
        ("GET", "/health", "0.0.0.0", True),
        ("GET", "/", "0.0.0.0", False),
        ("GET", "/static/app.js", "192.0.2.1", False),
        ("POST", "/", "0.0.0.0", True),
    ],
)
def test_token_required_rule(method: str, path: str, host: str, expected: bool) -> None:
    """token_required: unsafe methods always; everything but the page shell off loopback."""
    assert token_required(method, path, ApiConfig(host=host, token=TOKEN)) is expected
