"""Silences and approval answers over the API: bodies checked, errors in the envelope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from kit.api_fakes import ClientFactory, FakeView, make_view
from medic.clock import parse_iso
from medic.errors import ApprovalNotFound, BadSilence, NotWaiting, SilenceEnded, SilenceNotFound

Client = TestClient[web.Request, web.Application]
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class HumanView(FakeView):
    """The fake agent, plus silences and approvals that record what they were asked."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail: Exception | None = None

    silence_ids: list[str] = field(default_factory=lambda: ["s1"])

    def silences(self) -> list[dict[str, Any]]:
        return [
            {"id": i, "kind": "silence", "matchers": {"policy": "web-*"}} for i in self.silence_ids
        ]

    async def add_silence(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(("add", kw))
        if self.fail is not None:
            raise self.fail
        return {"id": "s2", **kw}

    async def expire_silence(self, silence_id: str, by: str) -> dict[str, Any]:
        self.calls.append(("expire", {"id": silence_id, "by": by}))
        if self.fail is not None:
            raise self.fail
        return {"id": silence_id}

    async def answer_approval(
        self, incident: str, approve: bool, by: str, comment: str | None, via: str | None = None
    ) -> dict[str, Any]:
        self.calls.append(("answer", {"incident": incident, "approve": approve, "by": by}))
        if self.fail is not None:
            raise self.fail
        decision = "granted" if approve else "denied"
        return {"incident": incident, "decision": decision, "by": by, "comment": comment}


async def start(client_for: ClientFactory) -> tuple[Client, HumanView]:
    base = make_view(token=TOKEN)
    view = HumanView(config=base.config, started_at=base.started_at, policies=base.policies)
    return await client_for(view), view


async def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    body = await response.json()
    return dict(body["error"])


@pytest.mark.asyncio
async def test_list_needs_no_token_on_loopback(client_for: ClientFactory) -> None:
    """GET /api/v1/silences lists what the agent has."""
    client, _ = await start(client_for)
    body = await (await client.get("/api/v1/silences")).json()
    assert body == {"silences": [{"id": "s1", "kind": "silence", "matchers": {"policy": "web-*"}}]}


@pytest.mark.asyncio
async def test_create_needs_the_token(client_for: ClientFactory) -> None:
    """Creating a silence changes state: no token, 401."""
    client, view = await start(client_for)
    response = await client.post("/api/v1/silences", json={})
    assert (await error(response, 401))["code"] == "unauthorized"
    assert view.calls == []


@pytest.mark.asyncio
async def test_create_with_duration_or_end_time(client_for: ClientFactory) -> None:
    """The body's duration becomes seconds, ends and starts become epoch seconds."""
    client, view = await start(client_for)
    body = {"matchers": {"policy": "web-*"}, "duration": "1h", "reason": "r", "author": "a"}
    response = await client.post("/api/v1/silences", json=body, headers=AUTH)
    assert response.status == 201
    assert view.calls[-1] == (
        "add",
        {
            "matchers": {"policy": "web-*"},
            "ends": None,
            "duration": 3600.0,
            "author": "a",
            "reason": "r",
            "act": False,
            "starts": None,
        },
    )
    body = {
        "matchers": {"labels": {"team": "db"}},
        "starts": "2030-01-01T02:00:00",
        "ends": "2030-01-01T04:00:00Z",
        "reason": "r",
        "author": "a",
        "act": True,
    }
    response = await client.post("/api/v1/silences", json=body, headers=AUTH)
    assert response.status == 201
    kw = view.calls[-1][1]
    assert kw["starts"] == parse_iso("2030-01-01T02:00:00Z")
    assert kw["ends"] == parse_iso("2030-01-01T04:00:00Z")
    assert kw["act"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "the body is not JSON: Expecting value: line 1 column 1 (char 0)"),
        ([1, 2], "the request body must be a JSON object"),
        (
            {"matchers": {"policy": "x"}, "reason": "r", "author": "a", "duraton": "1h"},
            "body: unknown key 'duraton'; valid keys: act, author, duration, ends, matchers, "
            "reason, starts",
        ),
        ({"reason": "r", "author": "a"}, "body: 'matchers' is a required property"),
        (
            {"matchers": {}, "duration": "1h", "reason": "r", "author": "a"},
            "matchers: {} should be non-empty",
        ),
        (
            {"matchers": {"policy": "x"}, "reason": "r", "author": "a"},
            "give either duration or ends",
        ),
        (
            {"matchers": {"policy": "x"}, "duration": "soon", "reason": "r", "author": "a"},
            "duration: 'soon' is not a duration: write a number with a unit, like 500ms, 30s, "
            "5m, 1h or 1h30m",
        ),
        (
            {"matchers": {"policy": "x"}, "ends": "tomorrow", "reason": "r", "author": "a"},
            "ends: 'tomorrow' is not an ISO time",
        ),
    ],
)
@pytest.mark.asyncio
async def test_bad_bodies_are_400_naming_the_problem(
    client_for: ClientFactory, body: Any, message: str
) -> None:
    """Every malformed body is a 400 bad_body whose message says what is wrong."""
    client, view = await start(client_for)
    if isinstance(body, str):
        response = await client.post("/api/v1/silences", data=body, headers=AUTH)
    else:
        response = await client.post("/api/v1/silences", json=body, headers=AUTH)
    err = await error(response, 400)
    assert (err["code"], err["message"]) == ("bad_body", message)
    assert view.calls == []


@pytest.mark.asyncio
async def test_refused_silence_is_400_with_the_agents_reason(client_for: ClientFactory) -> None:
    """What the agent refuses (a 91-day silence) comes back as the 400's message."""
    client, view = await start(client_for)
    view.fail = BadSilence("a silence may last at most 90d")
    body = {"matchers": {"policy": "x"}, "duration": "91d", "reason": "r", "author": "a"}
    err = await error(await client.post("/api/v1/silences", json=body, headers=AUTH), 400)
    assert err["message"] == "a silence may last at most 90d"


@pytest.mark.asyncio
async def test_expire_answers_404_409_and_200(client_for: ClientFactory) -> None:
    """Unknown id 404, already ended 409, else the ended silence; by defaults to the client."""
    client, view = await start(client_for)
    response = await client.delete("/api/v1/silences/s1", headers=AUTH)
    assert response.status == 200
    assert view.calls[-1] == ("expire", {"id": "s1", "by": "api client 127.0.0.1"})
    await client.delete("/api/v1/silences/s1", json={"by": "carol"}, headers=AUTH)
    assert view.calls[-1][1]["by"] == "carol"
    view.fail = SilenceNotFound("nope")
    err = await error(await client.delete("/api/v1/silences/nope", headers=AUTH), 404)
    assert err["message"] == "no silence 'nope'"
    view.fail = SilenceEnded("silence s1 already ended at 2024-05-01T03:00:00.000000Z")
    err = await error(await client.delete("/api/v1/silences/s1", headers=AUTH), 409)
    assert (err["code"], err["message"]) == (
        "conflict",
        "silence s1 already ended at 2024-05-01T03:00:00.000000Z",
    )


@pytest.mark.asyncio
async def test_approve_and_deny_pass_who_and_why(client_for: ClientFactory) -> None:
    """approve and deny hand the incident, the answer and who gave it to the agent."""
    client, view = await start(client_for)
    response = await client.post(
        "/api/v1/incidents/inc-1/approve", json={"by": "alice", "comment": "go"}, headers=AUTH
    )
    assert response.status == 200
    assert await response.json() == {
        "incident": "inc-1",
        "decision": "granted",
        "by": "alice",
        "comment": "go",
    }
    response = await client.post("/api/v1/incidents/inc-1/deny", headers=AUTH)
    assert view.calls[-1] == (
        "answer",
        {"incident": "inc-1", "approve": False, "by": "api client 127.0.0.1"},
    )
    assert (await client.post("/api/v1/incidents/inc-1/deny")).status == 401


@pytest.mark.asyncio
async def test_answers_nobody_waits_for_are_404_or_409(client_for: ClientFactory) -> None:
    """No request: 404. No longer waiting: 409 'incident ... no longer waiting'."""
    client, view = await start(client_for)
    view.fail = ApprovalNotFound("inc-9")
    err = await error(await client.post("/api/v1/incidents/inc-9/approve", headers=AUTH), 404)
    assert err["message"] == "no approval was requested for incident 'inc-9'"
    view.fail = NotWaiting("incident inc-1 is no longer waiting: the incident ended")
    err = await error(await client.post("/api/v1/incidents/inc-1/approve", headers=AUTH), 409)
    assert (err["code"], err["message"]) == (
        "conflict",
        "incident inc-1 is no longer waiting: the incident ended",
    )


@pytest.mark.asyncio
async def test_short_incident_ids_are_resolved(client_for: ClientFactory) -> None:
    """approve and deny take a unique prefix of the incident id; the full id is answered."""
    client, view = await start(client_for)
    row = view.audit.incident_rows[0]
    view.audit.incident_rows = [{**row, "id": "5f0c9e2a"}, {**row, "id": "77aa0000"}]
    response = await client.post("/api/v1/incidents/5f0/approve", headers=AUTH)
    assert response.status == 200, await response.text()
    by = "api client 127.0.0.1"
    assert view.calls[-1] == ("answer", {"incident": "5f0c9e2a", "approve": True, "by": by})


@pytest.mark.asyncio
async def test_an_ambiguous_prefix_lists_the_candidates(client_for: ClientFactory) -> None:
    """A prefix of two incident ids is a 409 naming both; nothing is answered."""
    client, view = await start(client_for)
    view.audit.incident_rows = [
        {**view.audit.incident_rows[0], "id": "ab12"},
        {**view.audit.incident_rows[0], "id": "ab34"},
    ]
    response = await client.post("/api/v1/incidents/ab/deny", headers=AUTH)
    assert await error(response, 409) == {
        "status": 409,
        "code": "ambiguous_id",
        "message": "incident 'ab' is ambiguous: it starts ab12, ab34",
        "hint": "give more of the id",
    }
    assert view.calls == []


@pytest.mark.asyncio
async def test_short_silence_ids_are_resolved(client_for: ClientFactory) -> None:
    """DELETE /api/v1/silences/<prefix> ends the one silence whose id starts so."""
    client, view = await start(client_for)
    view.silence_ids = ["5f0c9e2a11223344", "77aa000000000000"]
    response = await client.delete("/api/v1/silences/5f0c", headers=AUTH, json={"by": "me"})
    assert response.status == 200, await response.text()
    assert view.calls[-1] == ("expire", {"id": "5f0c9e2a11223344", "by": "me"})
