"""AuditStore.write: other tables written by the one writer, with savepoint isolation."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[AuditStore]:
    s = AuditStore(tmp_path / "audit.db", host="h")
    await s.start()
    yield s
    await s.close()


@pytest.mark.asyncio
async def test_write_returns_the_result_after_commit(store: AuditStore, tmp_path: Path) -> None:
    """A write op's rows are visible to another connection when write() returns."""

    def create(conn: sqlite3.Connection) -> int:
        conn.execute("create table if not exists notes (id integer primary key, text text)")
        return conn.execute("insert into notes (text) values ('hi')").lastrowid or 0

    row_id = await store.write(create)
    other = sqlite3.connect(tmp_path / "audit.db")
    assert other.execute("select id, text from notes").fetchall() == [(row_id, "hi")]
    other.close()


@pytest.mark.asyncio
async def test_a_failing_op_undoes_only_itself(store: AuditStore, tmp_path: Path) -> None:
    """An op that raises hands its exception back; events in the same batch still commit."""

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("create table half (x)")
        raise ValueError("op bug")

    store.emit(AuditEvent(Kind.AGENT_STARTED, 1.0))
    with pytest.raises(ValueError, match="op bug"):
        await store.write(broken)
    await store.flush()
    other = sqlite3.connect(tmp_path / "audit.db")
    assert other.execute("select count(*) from events").fetchone() == (1,)
    tables = {r[0] for r in other.execute("select name from sqlite_master")}
    assert "half" not in tables
    other.close()
