"""The tiny dialect shim under the review reads: one set of queries for the agent's
SQLite audit log and for the fleet's central PostgreSQL.

The review modules write their SQL once, in SQLite's spelling with ``?`` placeholders,
and run it through a :class:`ReviewDb`. :class:`SqliteDb` runs it as it is;
:class:`PostgresDb` numbers the placeholders (``$1, $2, ...``), turns ``GLOB`` into an
anchored ``~`` (both by :func:`medic.fleet.central.to_postgres`) and spells the two
things the dialects say differently: reading a JSON field of ``details``, and the
SQLite ``+column`` that keeps the planner off an index. Every call is synchronous: the
review functions run in a worker thread, and PostgresDb hands each query to the event
loop that owns the asyncpg connection and waits for its rows.

Central rows carry the host (the tables are keyed on host and id); ``central`` tells
the review functions so, and that the central database holds no approvals table.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from medic.audit.query import decode_row

if TYPE_CHECKING:
    import asyncpg

# How long one central query may take before the request fails (the pool's own
# command timeout stops it on the server).
QUERY_TIMEOUT = 30.0


class ReviewDb(Protocol):
    """Where the review functions read: rows from SQL in SQLite's spelling."""

    central: bool

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of ``sql`` (``?`` placeholders) as tuples."""
        ...

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """The rows of ``sql`` as dicts by column name, JSON text columns parsed."""
        ...

    def json_field(self, column: str, field: str) -> str:
        """SQL for the field ``field`` of the JSON text in ``column``."""
        ...

    def unindexed(self, column: str) -> str:
        """SQL naming ``column`` so that the planner does not pick its index."""
        ...


def decoded(names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    """A row as a dict, its JSON text columns parsed (as the agent's own reads do)."""
    return decode_row(dict(zip(names, row, strict=True)))


class SqliteDb:
    """The agent's own audit log (a read-only :class:`sqlite3.Connection`)."""

    central = False

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(sql, list(params))]

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, list(params))
        names = [c[0] for c in cur.description]
        return [decoded(names, r) for r in cur]

    def json_field(self, column: str, field: str) -> str:
        return f"json_extract({column}, '$.{field}')"

    def unindexed(self, column: str) -> str:
        return f"+{column}"


class PostgresDb:
    """The central database: an asyncpg connection owned by ``loop``, used from a
    worker thread."""

    central = True

    def __init__(self, conn: asyncpg.Connection, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.loop = loop

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[asyncpg.Record]:
        from medic.fleet.central import to_postgres

        text, values = to_postgres(sql, list(params))
        work = asyncio.run_coroutine_threadsafe(self.conn.fetch(text, *values), self.loop)
        try:
            found: list[asyncpg.Record] = work.result(QUERY_TIMEOUT)
        except TimeoutError:
            work.cancel()  # else the query runs on while its connection goes back to the pool
            raise
        return found

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._fetch(sql, params)]

    def dicts(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [decoded(list(r.keys()), tuple(r)) for r in self._fetch(sql, params)]

    def json_field(self, column: str, field: str) -> str:
        return f"(({column})::jsonb ->> '{field}')"

    def unindexed(self, column: str) -> str:
        return column


def as_db(conn: sqlite3.Connection | ReviewDb) -> ReviewDb:
    """``conn`` itself, or the SQLite shim around a plain connection."""
    return SqliteDb(conn) if isinstance(conn, sqlite3.Connection) else conn
