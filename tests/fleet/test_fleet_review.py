"""`medic fleet review`: the review page's API over a real central PostgreSQL holding
two hosts' shipped incidents; read-only, guarded like the agent's API."""

from __future__ import annotations

from typing import Any

import aiohttp
import asyncpg
import pytest
from click.testing import CliRunner

from kit.central import CentralReviewServer
from medic.api.appkeys import ApiToken
from medic.api.central import open_pool, start_central
from medic.cli import main
from medic.config import ApiConfig
from medic.errors import ConfigError

pytestmark = [pytest.mark.integration]


async def get(url: str, path: str, **headers: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url + path, headers=headers) as r:
        return r.status, await r.json()


@pytest.mark.asyncio
async def test_lists_incidents_of_both_hosts_with_the_host(
    central_review: CentralReviewServer,
) -> None:
    """The incident list holds both hosts' incidents, each naming its host; the flags
    come from the events (two attempts read from the JSON details on PostgreSQL)."""
    status, body = await get(central_review.url, "/api/v1/review/incidents")
    assert status == 200, body
    rows = {(i["host"], i["id"]): i for i in body["incidents"]}
    assert sorted(rows) == [
        ("node-a", "dup"), ("node-a", "inc-a1"), ("node-b", "dup"), ("node-b", "inc-b1"),
    ]  # fmt: skip
    assert body["total"] == 4
    healed = rows["node-a", "inc-a1"]
    assert (healed["status"], healed["attempts"], healed["policy"]) == ("healed", 2, "web-memory")
    assert rows["node-b", "inc-b1"]["status"] == "open"


@pytest.mark.asyncio
async def test_filters_by_host_and_pages(central_review: CentralReviewServer) -> None:
    """host= keeps one host's incidents; paging works over the central rows."""
    _, body = await get(central_review.url, "/api/v1/review/incidents?host=node-b")
    assert [(i["host"], i["id"]) for i in body["incidents"]] == [
        ("node-b", "dup"),
        ("node-b", "inc-b1"),
    ]
    _, first = await get(central_review.url, "/api/v1/review/incidents?limit=3")
    _, rest = await get(
        central_review.url, f"/api/v1/review/incidents?limit=3&after={first['next']}"
    )
    assert [i["id"] for i in first["incidents"] + rest["incidents"]] == [
        "dup",
        "dup",
        "inc-b1",
        "inc-a1",
    ]
    _, overview = await get(central_review.url, "/api/v1/review/overview?host=node-a")
    assert overview["view"] == "central"
    assert {p["policy"]: p["healed"] for p in overview["policies"]} == {"dup": 0, "web-memory": 1}


@pytest.mark.asyncio
async def test_one_incident_page_of_a_host(central_review: CentralReviewServer) -> None:
    """An incident's header, timeline and chart come from its host's events; an id two
    hosts share needs host= (404 naming it without)."""
    status, body = await get(central_review.url, "/api/v1/review/incidents/inc-a1?host=node-a")
    assert status == 200, body
    assert (body["incident"]["host"], body["incident"]["attempts"]) == ("node-a", 2)
    assert [e["kind"] for e in body["timeline"]][-1] == "verify.healed"
    assert body["chart"]["field"] == "mem"
    status, dup = await get(central_review.url, "/api/v1/review/incidents/dup?host=node-b")
    assert (status, dup["incident"]["target"]) == (200, "y")
    status, err = await get(central_review.url, "/api/v1/review/incidents/dup")
    assert status == 404 and "host=" in err["error"]["hint"]
    status, _ = await get(central_review.url, "/api/v1/review/incidents/inc-a1?host=node-b")
    assert status == 404


@pytest.mark.asyncio
async def test_the_central_view_is_read_only(central_review: CentralReviewServer) -> None:
    """No route changes anything (POST is 404 or 405), introspection lists GETs only, health
    says central, 'awaiting' is refused, and the sessions themselves are read-only."""
    async with aiohttp.ClientSession() as session:
        for path, expected in (("/api/v1/silences", 404), ("/api/v1/review/incidents", 405)):
            async with session.post(central_review.url + path, json={}) as r:
                assert r.status == expected, path
    _, routes = await get(central_review.url, "/api/v1/")
    assert {r["method"] for r in routes["routes"]} == {"GET"}
    _, health = await get(central_review.url, "/health")
    assert (health["view"], health["hosts"]) == ("central", 2)
    status, err = await get(central_review.url, "/api/v1/review/incidents?status=awaiting")
    assert status == 400 and err["error"]["message"].startswith("status: ")
    pool = await open_pool(central_review.dsn)
    try:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await pool.execute("DELETE FROM events")
    finally:
        await pool.close()


@pytest.mark.asyncio
async def test_host_header_and_token_rules(central_review: CentralReviewServer) -> None:
    """A rebinding Host gets 421; beyond loopback without a token it refuses to start."""
    status, err = await get(central_review.url, "/api/v1/review/incidents", Host="evil.example")
    assert (status, err["error"]["code"]) == (421, "unknown_host")
    pool = await open_pool(central_review.dsn)
    try:
        with pytest.raises(ConfigError, match="beyond loopback"):
            await start_central(ApiConfig(host="0.0.0.0", port=0), ApiToken(None, "-"), pool)
    finally:
        await pool.close()


def test_cli_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """`medic fleet review` without a DSN, or with a bad --listen, says what to fix."""
    monkeypatch.delenv("MEDIC_CENTRAL_AUDIT_DSN", raising=False)
    result = CliRunner().invoke(main, ["fleet", "review"])
    assert result.exit_code == 1 and "MEDIC_CENTRAL_AUDIT_DSN" in result.output
    monkeypatch.setenv("MEDIC_CENTRAL_AUDIT_DSN", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(main, ["fleet", "review", "--listen", "nowhere"])
    assert result.exit_code == 1 and "'nowhere' is not host:port" in result.output
