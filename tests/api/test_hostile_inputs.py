"""Every route of a real agent's API, walked with hostile values: never a 500.

The agent is the real one (audit store on SQLite, silences, approvals, the
Alertmanager book), so a value that slips past a route's checks and breaks
``datetime``, SQLite or arithmetic further on shows up here as a 500. Every route in
the app's router is walked: path parameters, query parameters and, for routes that
take one, the JSON body, at every key, with NaN, infinities, huge and negative
numbers, year 9999, 10,000-character strings, wrong JSON types, invalid JSON and
text that is not UTF-8.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from medic.api.app import MAX_BODY, create_app
from medic.api.appkeys import ApiToken
from medic.cli.run import agent_with_api
from medic.config import AgentConfig, ApiConfig
from medic.engine.agent import Agent

pytestmark = pytest.mark.integration

TOKEN = "hostile-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
# What a refused input may get; 2xx is allowed too where a value happens to be valid.
REFUSALS = {400, 401, 403, 404, 405, 409, 413}

# Written into URLs as they are (already percent-encoded where needed).
URL_VALUES = [
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e309",
    "-1",
    "0",
    "99999999999999999999999",
    "9" * 5000,
    "%C2%B2",  # '²', a digit to str.isdigit() but not to int()
    "9999-12-31",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "99999999999d",
    "2932896d",
    "-5d",
    "x" * 10_000,
    "%FF",
    "%00",
    "%ED%A0%80",
    "a%20b%2Bc",
]
PARAMETER_NAMES = [
    "since",
    "until",
    "limit",
    "offset",
    "order",
    "open",
    "policy",
    "target",
    "incident",
    "kind",
    "outcome",
    "unknown",
]
# JSON text put in place of one value of a valid body.
JSON_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1",
    "0",
    "1e300",
    "9" * 5000,
    "-" + "9" * 30,
    '"9999-12-31"',
    '"0001-01-01T00:00:00Z"',
    '"99999999999d"',
    '"2932896d"',
    '"NaN"',
    '"-1h"',
    json.dumps("x" * 10_000),
    '""',
    "null",
    "true",
    "[]",
    "{}",
    '"\\ud800"',
    "[" * 40 + "]" * 40,
    json.dumps({"policy": "x" * 10_000}),
]
# Whole bodies, not JSON objects or not JSON at all.
RAW_BODIES = [
    b"not json",
    b"\xff\xfe\x00{",
    b"NaN",
    b"[]",
    b'"text"',
    b"5",
    b"null",
    b"[" * 5000,
    b'{"a":' * 5000,
    b'{"\xc3": 1}',
    b"{" + b'"k": 1, ' * 20_000 + b'"k": 2}',
    b"x" * (MAX_BODY + 1),
]
# A valid body for every route that reads one; the walk replaces one value at a time.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/reload"): {},
    ("POST", "/api/v1/alertmanager"): {
        "version": "4",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "x"},
                "startsAt": "2024-05-01T00:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
            }
        ],
    },
    ("POST", "/api/v1/silences"): {
        "matchers": {"policy": "x", "labels": {"team": "web"}},
        "duration": "1h",
        "reason": "r",
        "author": "a",
    },
    ("DELETE", "/api/v1/silences/{silence}"): {"by": "a"},
    ("POST", "/api/v1/incidents/{incident}/approve"): {"by": "a", "comment": "c"},
    ("POST", "/api/v1/incidents/{incident}/deny"): {"by": "a", "comment": "c"},
    ("POST", "/api/v1/incidents/{incident}/ack"): {"by": "a", "comment": "c"},
    # The signed token is the whole request: the page's form posts nothing else.
    ("POST", "/links/{token}"): {},
}
# Pages for people (the link confirmation): errors are HTML pages, still never a 5xx.
HTML_PREFIXES = ("/links/",)
# Keys whose every hostile value must be refused: times and durations.
STRICT_KEYS = {"duration", "starts", "ends"}
PLACEHOLDER = '"__hostile__"'


@pytest_asyncio.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    """A real agent with no policies, its API on a free loopback port, a token set."""
    (tmp_path / "policies").mkdir()
    config = AgentConfig(
        host="hostile-1",
        state_dir=tmp_path / "state",
        policy_paths=(tmp_path / "policies",),
        watch=False,
        api=ApiConfig(port=0, token=TOKEN),
    )
    agent = agent_with_api(config)
    await agent.start()
    yield agent
    await agent.stop()


def routes() -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, HEAD twins left out."""
    app = create_app(None, ApiToken(None, "-"))  # type: ignore[arg-type]  # only the router is read
    out = []
    for route in app.router.routes():
        if route.method != "HEAD" and route.resource is not None:
            out.append((route.method, route.resource.canonical))
    return out


def fill(template: str, value: str) -> str:
    """The path with every ``{param}`` replaced by ``value``."""
    return re.sub(r"\{[^}]+\}", value, template)


def body_variants(base: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(where, body with PLACEHOLDER at ``where``) for every key and item of ``base``."""
    if isinstance(base, dict):
        for key, value in base.items():
            where = f"{path}.{key}" if path else key
            yield where, {**base, key: "__hostile__"}
            for sub, replaced in body_variants(value, where):
                yield sub, {**base, key: replaced}
        yield f"{path}.extra" if path else "extra", {**base, "extra_key": "__hostile__"}
    elif isinstance(base, list):
        for index, value in enumerate(base):
            for sub, replaced in body_variants(value, f"{path}[{index}]"):
                yield sub, [*base[:index], replaced, *base[index + 1 :]]


async def check(
    session: aiohttp.ClientSession, method: str, url: URL, data: bytes | None = None
) -> int:
    """Send one request; fail on a 5xx or an error outside the envelope."""
    async with session.request(method, url, data=data, headers=HEADERS) as response:
        text = await response.text(errors="replace")
        status, content_type = response.status, response.content_type
    what = f"{method} {str(url)[:200]} body={(data or b'')[:200]!r}"
    assert status < 500, f"{what}: {status} {text[:300]}"
    if status >= 400:
        assert status in REFUSALS, f"{what}: {status} {text[:300]}"
        if url.path.startswith(HTML_PREFIXES):
            assert content_type == "text/html", f"{what}: {status} {text[:300]}"
            return status
        assert content_type == "application/json", f"{what}: {status} {text[:300]}"
        error = json.loads(text)["error"]
        assert error["status"] == status, what
        assert isinstance(error["code"], str) and isinstance(error["message"], str), what
    return status


@pytest.mark.asyncio
async def test_every_route_is_walked_and_every_body_route_has_a_valid_body() -> None:
    """The walk covers the whole router: a new route with a body must add its valid body."""
    writing = {(m, p) for m, p in routes() if m not in {"GET", "HEAD"}}
    assert writing == set(BODIES)


@pytest.mark.asyncio
async def test_hostile_path_and_query_values_never_500(agent: Agent) -> None:
    """Every route, hostile values in its path and under every parameter name: 4xx or 2xx."""
    base = agent.api.url
    async with aiohttp.ClientSession() as session:
        for method, template in routes():
            for value in URL_VALUES:
                path = fill(template, value)
                await check(session, method, URL(base + path, encoded=True))
            path = fill(template, "x")
            for name in PARAMETER_NAMES:
                for value in URL_VALUES:
                    url = URL(f"{base}{path}?{name}={value}", encoded=True)
                    await check(session, method, url)


@pytest.mark.asyncio
async def test_hostile_bodies_never_500(agent: Agent) -> None:
    """Every route that reads a body, a hostile value at every key and hostile whole bodies."""
    base = agent.api.url
    async with aiohttp.ClientSession() as session:
        for (method, template), valid in BODIES.items():
            url = URL(base + fill(template, "x"), encoded=True)
            for raw in RAW_BODIES:
                assert await check(session, method, url, raw) in REFUSALS, raw[:40]
            for where, body in body_variants(valid):
                text = json.dumps(body)
                for value in JSON_VALUES:
                    data = text.replace(PLACEHOLDER, value).encode()
                    status = await check(session, method, url, data)
                    if where.split(".")[-1] in STRICT_KEYS:
                        assert status in REFUSALS, f"{where}={value[:40]}: {status}"
