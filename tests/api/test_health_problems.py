"""/health says when the agent cannot do its job, and why."""

from __future__ import annotations

import pytest

from kit.api_fakes import Client, ClientFactory, FakeView


@pytest.mark.asyncio
async def test_health_is_503_with_the_reason_while_a_problem_stands(
    view: FakeView, client_for: ClientFactory
) -> None:
    """A problem (the audit log unwritable) makes /health 503 'unhealthy' with its reason."""
    reason = "the audit log /var/lib/medic/audit.db cannot be written: database or disk is full"
    problem = {"check": "audit", "reason": reason, "since": "2026-01-01T00:00:00.000000Z"}
    view.unhealthy.append(problem)
    client: Client = await client_for(view)
    response = await client.get("/health")
    assert response.status == 503
    body = await response.json()
    assert (body["status"], body["reason"], body["problems"]) == ("unhealthy", reason, [problem])
    view.unhealthy.clear()
    response = await client.get("/health")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
