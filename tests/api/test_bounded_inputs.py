"""Out-of-range times, numbers and strings at the API: a 400 that names them, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from kit.api_fakes import ClientFactory, make_view
from medic.bounds import RANGE

TOKEN = "bounds-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
SILENCE = '{"matchers": {"policy": "x"}, "reason": "r", "author": "a", %s}'


async def error(response: Any) -> tuple[str, str, str]:
    assert response.status == 400, await response.text()
    body = (await response.json())["error"]
    return body["code"], body["message"], body.get("hint", "")


@pytest.mark.parametrize(
    ("query", "message", "hint"),
    [
        (
            "since=99999999999d",
            "since: '99999999999d' is longer than 36500d",
            "write at most 36500d",
        ),
        (
            "since=10000d",
            "since: '10000d' ago is before 2000-01-01, the earliest time accepted",
            "write a shorter duration, or leave the option out for no lower bound",
        ),
        (
            "until=9999-12-31",
            f"until: '9999-12-31' is outside {RANGE}",
            f"write a time from {RANGE}",
        ),
        (
            "since=1999-12-31T23:59:59Z",
            f"since: '1999-12-31T23:59:59Z' is outside {RANGE}",
            f"write a time from {RANGE}",
        ),
        (
            "since=NaN",
            "since: 'NaN' is neither an ISO time nor a duration",
            "write an ISO time like 2024-05-01T12:00:00Z, a duration ago like 30m, 24h or 7d, "
            "today or yesterday",
        ),
        (
            "limit=%C2%B2",
            "limit: '²' is not a whole number from 1 to 10000",
            "e.g. limit=100 (the most is 10000)",
        ),
        (
            "limit=" + "9" * 50,
            "limit: '999999999999999999999999999999999999... is not a whole number from 1 to 10000",
            "e.g. limit=100 (the most is 10000)",
        ),
        (
            "policy=" + "p" * 1001,
            "policy: 'pppppppppppppppppppppppppppppppppppp... is 1001 characters long",
            "write at most 1000 characters",
        ),
        (
            "kind=" + "k" * 1001,
            "kind: 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk... is 1001 characters long",
            "write at most 1000 characters",
        ),
    ],
)
@pytest.mark.asyncio
async def test_audit_query_out_of_range_is_400(
    client_for: ClientFactory, query: str, message: str, hint: str
) -> None:
    """/api/v1/audit refuses times outside 2000..2100, huge durations and numbers, long text."""
    client = await client_for(make_view())
    response = await client.get(f"/api/v1/audit?{query}")
    assert await error(response) == ("bad_parameter", message, hint)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('"duration": NaN', "the body is not JSON: NaN is not a JSON number"),
        ('"duration": Infinity', "the body is not JSON: Infinity is not a JSON number"),
        ('"duration": 1e999', "the body holds the number 1e999, too large for a float"),
        (
            '"duration": "2932896d"',
            "duration: '2932896d' is longer than 36500d: write at most 36500d",
        ),
        (
            '"duration": -5',
            "duration: -5 is negative: write a number with a unit, like 500ms, "
            "30s, 5m, 1h or 1h30m",
        ),
        (
            '"duration": "1h", "starts": "9999-12-31"',
            f"starts: '9999-12-31' is outside {RANGE}",
        ),
        ('"ends": "0001-01-01T00:00:00Z"', f"ends: '0001-01-01T00:00:00Z' is outside {RANGE}"),
        ('"duration": "1h", "act": true, "x": "\\ud800"', "x: a string that is not valid Unicode"),
        (
            '"duration": "1h", "author2": "' + "a" * 1001 + '"',
            "author2: a string of 1001 characters (at most 1000)",
        ),
    ],
)
@pytest.mark.asyncio
async def test_silence_out_of_range_is_400(
    client_for: ClientFactory, fields: str, message: str
) -> None:
    """A silence with NaN, infinite, huge or negative durations or year-9999 times is a 400."""
    client = await client_for(make_view(token=TOKEN))
    response = await client.post("/api/v1/silences", data=SILENCE % fields, headers=AUTH)
    code, got, _ = await error(response)
    assert (code, got) == ("bad_body", message)


@pytest.mark.asyncio
async def test_reload_refuses_a_body(client_for: ClientFactory) -> None:
    """POST /api/v1/reload takes no body: one it cannot read is a 400, not a reload."""
    view = make_view(token=TOKEN)
    client = await client_for(view)
    response = await client.post("/api/v1/reload", data=b"\xff", headers=AUTH)
    assert await error(response) == (
        "bad_body",
        "the body is not JSON: it is not UTF-8 text",
        "send no body, or {}",
    )
    response = await client.post("/api/v1/reload", data='{"now": 1}', headers=AUTH)
    assert (await error(response))[1] == "body: unknown key 'now'; it takes no keys"
    assert view.reloads == 0
    assert (await client.post("/api/v1/reload", headers=AUTH)).status == 200


@pytest.mark.parametrize(
    ("starts", "message"),
    [
        ("9999-12-31T00:00:00Z", f"alerts[0].startsAt: '9999-12-31T00:00:00Z' is outside {RANGE}"),
        ("1970-01-01T00:00:00Z", f"alerts[0].startsAt: '1970-01-01T00:00:00Z' is outside {RANGE}"),
    ],
)
@pytest.mark.asyncio
async def test_alertmanager_times_out_of_range_are_400(
    client_for: ClientFactory, starts: str, message: str
) -> None:
    """The receiver refuses an alert starting in year 9999 (Go's zero time still means none)."""
    client = await client_for(make_view(token=TOKEN))
    alert = {"status": "firing", "labels": {"a": "b"}, "startsAt": starts}
    body = {"version": "4", "alerts": [alert]}
    response = await client.post("/api/v1/alertmanager", json=body, headers=AUTH)
    code, got, _ = await error(response)
    assert (code, got) == ("bad_payload", message)
