"""Where the review routes read: the agent's own audit log, or the fleet's central
PostgreSQL.

Both run a review function (:mod:`medic.audit.review`) in a worker thread over a
:class:`~medic.audit.review_db.ReviewDb`, so the routes and the queries are the same
for one agent and for the fleet. ``central`` tells the routes and the page which one
they serve: the central view has many hosts and no approvals or silences to change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from medic.api.errors import ApiError
from medic.audit.query import connect_readonly
from medic.audit.review_db import PostgresDb, ReviewDb, SqliteDb

if TYPE_CHECKING:
    import asyncpg

    from medic.api.view import AgentView

T = TypeVar("T")
CENTRAL_DOWN_HINT = (
    "check that the central PostgreSQL is up and that fleet.central_audit.dsn (or "
    "$MEDIC_CENTRAL_AUDIT_DSN) names it; docs/fleet.md"
)


class ReviewSource(Protocol):
    central: bool

    def about(self) -> dict[str, Any]:
        """What the overview says of whose incidents these are (``host``, ``dry_run``)."""
        ...

    async def read(self, fn: Callable[[ReviewDb], T], empty: T) -> T:
        """``fn`` run over the database; ``empty`` when there is none yet."""
        ...


class LocalReview:
    """The running agent's audit log, on a fresh read-only connection per request (the
    file is WAL, so reads never wait for the writer)."""

    central = False

    def __init__(self, view: AgentView) -> None:
        self.view = view

    def about(self) -> dict[str, Any]:
        config = self.view.config
        return {"host": config.host, "dry_run": config.dry_run}

    async def read(self, fn: Callable[[ReviewDb], T], empty: T) -> T:
        path = self.view.audit.path

        def run() -> T:
            if not path.exists():
                return empty
            conn = connect_readonly(path)
            try:
                return fn(SqliteDb(conn))
            finally:
                conn.close()

        return await asyncio.to_thread(run)


class CentralReview:
    """The fleet's central database through a pool of read-only sessions."""

    central = True

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    def about(self) -> dict[str, Any]:
        return {"host": None, "dry_run": False}

    async def read(self, fn: Callable[[ReviewDb], T], empty: T) -> T:
        import asyncpg

        loop = asyncio.get_running_loop()
        try:
            async with self.pool.acquire() as conn:
                return await asyncio.to_thread(fn, PostgresDb(conn, loop))
        except asyncpg.UndefinedTableError:
            return empty  # no agent has shipped anything yet
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise ApiError(
                503,
                f"the central audit database cannot be read: {type(exc).__name__}",
                hint=CENTRAL_DOWN_HINT,
            ) from exc
