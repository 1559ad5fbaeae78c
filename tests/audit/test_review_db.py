"""The review reads' PostgreSQL shim, without a server: what a query that takes too long does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from medic.audit import review_db


class StuckConnection:
    """An asyncpg connection whose every query waits forever (until cancelled)."""

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    async def fetch(self, sql: str, *values: Any) -> list[Any]:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("unreachable")


@pytest.mark.asyncio
async def test_a_query_past_its_timeout_is_cancelled_not_left_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker thread gives up after QUERY_TIMEOUT and the query on the loop is
    cancelled, so its connection goes back to the pool idle."""
    monkeypatch.setattr(review_db, "QUERY_TIMEOUT", 0.05)
    conn = StuckConnection()
    db = review_db.PostgresDb(conn, asyncio.get_running_loop())  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        await asyncio.to_thread(db.rows, "SELECT 1")
    await asyncio.wait_for(conn.cancelled.wait(), 5)
