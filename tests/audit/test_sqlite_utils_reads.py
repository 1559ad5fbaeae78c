"""The audit database is a plain table set: sqlite-utils (and so Datasette) reads an
agent-written file as is, and the agent loads sqlite-utils only to migrate."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import sqlite_utils

from medic.audit import samples
from medic.audit.events import AuditEvent, Kind
from medic.audit.migrations import MIGRATIONS
from medic.audit.store import AuditStore
from medic.notify import links

pytestmark = pytest.mark.integration

T0 = 1_700_000_000.0
# Every table the migrations make, and the bookkeeping one that records them.
TABLES = {
    "_migrations",
    "events",
    "incidents",
    "outbox",
    "silences",
    "approvals",
    "audit_chain",
    "audit_anchor",
    "samples",
    "ship_cursor",
    "link_uses",
}
JSON_COLUMNS = {"events": ("values", "details"), "samples": ("fields",), "silences": ("matchers",)}


@pytest_asyncio.fixture
async def written(tmp_path: Path) -> AsyncIterator[Path]:
    """A database the agent's own writer filled: an incident's events, samples and a
    spent link."""
    path = tmp_path / "state" / "audit.db"
    store = AuditStore(path, host="node1")
    await store.start()
    store.emit(
        AuditEvent(Kind.DETECTED, T0, policy="p", target="t", incident="i-1", values={"x": 1})
    )
    store.emit(AuditEvent(Kind.VERIFY_HEALED, T0 + 5, policy="p", target="t", incident="i-1"))
    row = samples.SampleRow(T0, "p", "t", "host.memory:abc", True, {"percent": 93.5})
    await store.write(lambda conn: samples.insert(conn, [row]))
    claim = links.Claim(incident="i-1", action="ack", recipient="oncall", expires=2_000_000_000)
    await store.write(lambda conn: links.spend(conn, "token", claim, T0))
    await store.close()
    yield path


def test_sqlite_utils_reads_every_table_of_an_agent_written_database(written: Path) -> None:
    """Every table opens with sqlite_utils.Database, its rows read as dicts, its JSON
    columns hold JSON text; every table is one the migrations made (link_uses was once
    made outside them, on first use)."""
    db = sqlite_utils.Database(written)
    assert set(db.table_names()) == TABLES
    assert db.view_names() == []
    counts = {}
    for name in db.table_names():
        table = db.table(name)
        rows = list(table.rows)
        counts[name] = len(rows)
        assert table.count == len(rows)
        if rows:
            assert [c.name for c in table.columns] == list(rows[0])
        for row in rows:
            for column in JSON_COLUMNS.get(name, ()):
                if row[column] is not None:
                    json.loads(row[column])
    assert counts["events"] == 2
    assert counts["incidents"] == 1
    assert counts["samples"] == 1
    assert counts["link_uses"] == 1
    assert counts["_migrations"] == len(MIGRATIONS)
    assert db.table("events").pks == ["id"]
    db.close()


def test_the_agent_loads_sqlite_utils_only_to_migrate(written: Path) -> None:
    """Starting the store on a current database (every start after the first) does not
    import sqlite_utils: 6 MB and 80 ms the running agent has no use for."""
    code = textwrap.dedent(
        f"""
        import asyncio, sys
        from medic.audit.store import AuditStore

        async def main():
            store = AuditStore({str(written)!r}, host="node1")
            await store.start()
            await store.close()

        asyncio.run(main())
        print("sqlite_utils" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.asyncio
async def test_the_migrations_make_every_table_the_agent_writes(tmp_path: Path) -> None:
    """A new database holds every table before anything is written: no table is made
    on first use, outside the migrations that own the schema."""
    store = AuditStore(tmp_path / "audit.db", host="node1")
    await store.start()
    await store.close()
    assert set(sqlite_utils.Database(tmp_path / "audit.db").table_names()) == TABLES
