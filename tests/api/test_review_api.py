"""The review routes check their query parameters strictly, in the one error envelope."""

from __future__ import annotations

import pytest

from kit.api_fakes import Client


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=bogus", "status: 'bogus' is not a status"),
        ("limit=501", "limit: '501' is not a whole number from 1 to 500"),
        ("after=!!", "after: '!!' is not a paging cursor"),
        ("after=a&before=b", "after: given with before"),
        ("since=1h&until=2h", "since: is later than until"),
        ("page=2", "page: not a parameter of GET /api/v1/review/incidents"),
    ],
)
async def test_bad_incident_list_parameters_are_400(
    client: Client, query: str, message: str
) -> None:
    """Each malformed parameter is a 400 naming it."""
    response = await client.get("/api/v1/review/incidents?" + query)
    assert response.status == 400
    assert (await response.json())["error"]["message"] == message


@pytest.mark.asyncio
async def test_overview_period_is_bounded_and_names_dry_run(client: Client) -> None:
    """More than 366 days is a 400; without a database the overview is empty, not an error."""
    response = await client.get("/api/v1/review/overview?since=400d")
    assert response.status == 400
    body = await (await client.get("/api/v1/review/overview")).json()
    assert body["policies"] == [] and body["agent"] == {"host": "web-1", "dry_run": False}
