"""One audit log for the fleet: every agent ships its events to a central PostgreSQL.

The local audit log is the durable queue: a cursor (table ``ship_cursor``) says the
last event id that reached the central database. Each round reads the next batch
after the cursor, inserts it centrally with ``ON CONFLICT DO NOTHING`` on the event's
id (host, local id), and only then moves the cursor. A crash or an outage between
the two repeats the batch, which the conflict rule turns into nothing: retries never
duplicate, and nothing is lost while the central database is down. The incidents the
batch touches are upserted with it (keyed on host and id), so the central database
answers ``medic audit show/incidents --central`` the way the local one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from medic import secrets
from medic.audit.store import AuditStore
from medic.deadline import within
from medic.errors import FleetError
from medic.lazy import lazy_module

if TYPE_CHECKING:
    import asyncpg
else:
    asyncpg = lazy_module("asyncpg")

log = structlog.get_logger("medic.fleet.ship")

BATCH = 500
CURSOR = "central"
COLUMNS = (
    "host", "id", "time", "kind", "policy", "target", "incident", "action", "outcome",
    "values", "details", "prev_hash", "hash",
)  # fmt: skip
_INCIDENT = COLUMNS.index("incident")
_QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)

DDL = """
CREATE TABLE IF NOT EXISTS events (
    host text NOT NULL, id bigint NOT NULL, time text NOT NULL, kind text NOT NULL,
    policy text, target text, incident text, action text, outcome text,
    "values" text, details text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL,
    PRIMARY KEY (host, id)
);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE INDEX IF NOT EXISTS events_incident ON events (incident);
CREATE INDEX IF NOT EXISTS events_kind_time ON events (kind, time);
CREATE TABLE IF NOT EXISTS incidents (
    host text NOT NULL, id text NOT NULL, policy text, target text, opened text NOT NULL,
    closed text, status text NOT NULL, escalated integer NOT NULL, last_event text,
    PRIMARY KEY (host, id)
);
CREATE INDEX IF NOT EXISTS incidents_opened ON incidents (opened);
"""
INSERT = (
    f"INSERT INTO events ({_QUOTED}) "  # noqa: S608 -- fixed column names only
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(COLUMNS)))}) "
    "ON CONFLICT (host, id) DO NOTHING"
)
INCIDENT_COLUMNS = (
    "host", "id", "policy", "target", "opened", "closed", "status", "escalated", "last_event",
)  # fmt: skip
# An incident changes (closes, escalates, gets later events) only with an event, so the
# incidents a batch of events touches are upserted with it: the central row follows the
# local one, and shipping a batch twice writes the same row twice.
UPSERT_INCIDENT = (
    f"INSERT INTO incidents ({', '.join(INCIDENT_COLUMNS)}) "  # noqa: S608 -- fixed names
    f"VALUES ({', '.join(f'${i + 1}' for i in range(len(INCIDENT_COLUMNS)))}) "
    "ON CONFLICT (host, id) DO UPDATE SET closed = excluded.closed, "
    "status = excluded.status, escalated = excluded.escalated, last_event = excluded.last_event"
)


def _batch(conn: sqlite3.Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The next events after the cursor, and the current rows of the incidents they touch."""
    row = conn.execute("SELECT last_id FROM ship_cursor WHERE name = ?", (CURSOR,)).fetchone()
    after = row[0] if row else 0
    local = ", ".join(f'"{c}"' for c in COLUMNS)
    sql = f"SELECT {local} FROM events WHERE id > ? ORDER BY id LIMIT ?"  # noqa: S608 -- fixed
    events = [tuple(r) for r in conn.execute(sql, (after, BATCH))]
    # The central key is the host that wrote the incident's events (and the row's id).
    hosts = {e[_INCIDENT]: e[0] for e in events if e[_INCIDENT] is not None}
    touched = sorted(hosts)
    incidents: list[tuple[Any, ...]] = []
    rest = ", ".join(INCIDENT_COLUMNS[1:])
    for start in range(0, len(touched), 500):  # within SQLite's limit on parameters
        chunk = touched[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        sql = f"SELECT {rest} FROM incidents WHERE id IN ({marks})"  # noqa: S608 -- fixed names and placeholders
        incidents.extend((hosts[r[0]], *r) for r in conn.execute(sql, chunk))
    return events, incidents


def _advance(conn: sqlite3.Connection, last_id: int) -> None:
    conn.execute(
        "INSERT INTO ship_cursor (name, last_id) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id",
        (CURSOR, last_id),
    )


async def connect_central(dsn: str) -> asyncpg.Connection:
    """A connection to the central database with its table in place."""
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
        await conn.execute(DDL)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise FleetError(f"central audit database unreachable: {type(exc).__name__}") from exc
    return conn


class Shipper:
    """Ships the local audit log to the central database every ``every`` seconds."""

    def __init__(self, audit: AuditStore, dsn: Mapping[str, str], every: float) -> None:
        self.audit = audit
        self.dsn = dsn
        self.every = every
        self.shipped = 0
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """One last round (bounded), then close."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await within(self.ship_once(), 5)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    async def ship_once(self) -> int:
        """Ship every event after the cursor; the number shipped (retries included)."""
        total = 0
        while True:
            rows, incidents = await self.audit.write(_batch)
            if not rows:
                return total
            if self._conn is None or self._conn.is_closed():
                self._conn = await connect_central(secrets.resolve(self.dsn))
            try:
                async with self._conn.transaction():
                    await self._conn.executemany(INSERT, rows)
                    await self._conn.executemany(UPSERT_INCIDENT, incidents)
            except Exception as exc:  # a broken connection raises many kinds: all mean later
                with contextlib.suppress(Exception):
                    self._conn.terminate()
                self._conn = None
                raise FleetError(f"shipping to the central audit failed: {exc!r}") from exc
            last_id = int(rows[-1][1])
            await self.audit.write(functools.partial(_advance, last_id=last_id))
            total += len(rows)
            self.shipped += len(rows)

    async def _loop(self) -> None:
        while True:
            try:
                await self.ship_once()
            except (FleetError, secrets.SecretError) as exc:
                log.warning("fleet.ship_failed", error=exc.message)
            await asyncio.sleep(self.every)
