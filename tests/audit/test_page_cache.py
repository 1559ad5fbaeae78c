"""Every SQLite connection Medic opens keeps a small page cache (issue 14: memory)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from medic.audit.query import CACHE_KIB, connect_readonly
from medic.audit.upgrade import open_for_writing


def _cache_size(conn: sqlite3.Connection) -> int:
    size: int = conn.execute("PRAGMA cache_size").fetchone()[0]
    return size


def test_the_writer_and_readers_cache_at_most_512_kib(tmp_path: Path) -> None:
    """The writer's and a reader's page cache is 512 KiB, not SQLite's 2000 KiB each."""
    path = tmp_path / "audit.db"
    writer = open_for_writing(path)
    writer.execute("CREATE TABLE t (x)")
    reader = connect_readonly(path)
    try:
        assert CACHE_KIB == 512
        assert _cache_size(writer) == -512
        assert _cache_size(reader) == -512
    finally:
        reader.close()
        writer.close()
