"""The audit log's hash chain: how one event is linked to the one before it.

Each event's ``hash`` covers its ``prev_hash`` followed by the canonical JSON of its
stored columns (``time`` .. ``prev_hash``, as one array in column order), so changing,
inserting or removing a row breaks every link after it. Since the chain is keyed the
link is an HMAC-SHA256 under a secret kept outside the database (:mod:`medic.audit.key`):
whoever can write ``audit.db`` but not read the key cannot recompute the chain.

Rows written by agents before the key existed keep their plain SHA-256 links. The
``audit_chain`` table records, once, the first event id that is keyed, the key's id,
and an HMAC tag over both, so the boundary itself cannot be moved without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from medic.audit.migrations import EVENT_COLUMNS

GENESIS = "0" * 64  # prev_hash of the first event
HASHED = EVENT_COLUMNS[:-1]  # every stored column but id and hash itself
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def _message(prev_hash: str, row: Sequence[Any]) -> bytes:
    if len(row) != len(HASHED):
        raise ValueError(f"a hashed row has {len(HASHED)} columns, not {len(row)}")
    return (prev_hash + _CANONICAL.encode(list(row))).encode()


def sha_link(prev_hash: str, row: Sequence[Any]) -> str:
    """The unkeyed link of events written before the key: SHA-256 of ``prev_hash`` +
    the canonical JSON of ``row``."""
    return hashlib.sha256(_message(prev_hash, row)).hexdigest()


class ChainKey:
    """The secret that keys the chain; ``source`` says where it came from (never what)."""

    def __init__(self, secret: bytes, source: str) -> None:
        self.source = source
        self._base = hmac.new(secret, digestmod=hashlib.sha256)
        self.key_id = self._mac(b"medic audit key id")[:16]

    def _mac(self, data: bytes) -> str:
        mac = self._base.copy()  # a copy of the keyed state skips re-keying per event
        mac.update(data)
        return mac.hexdigest()

    def link(self, prev_hash: str, row: Sequence[Any]) -> str:
        """The keyed link: HMAC-SHA256 of ``prev_hash`` + the canonical JSON of ``row``."""
        return self._mac(_message(prev_hash, row))

    def tag(self, keyed_from: int, key_id: str) -> str:
        """The HMAC that pins where the keyed chain starts."""
        return self._mac(f"medic audit keyed from {keyed_from} with {key_id}".encode())

    def anchor_tag(self, count: int, last_id: int, hash_: str) -> str:
        """The HMAC that pins where the chain resumes after pruning (medic.audit.anchor)."""
        return self._mac(f"medic audit anchor {count} {last_id} {hash_}".encode())


@dataclass(frozen=True)
class Marker:
    """The ``audit_chain`` row: events with ``id >= keyed_from`` are keyed."""

    keyed_from: int
    key_id: str
    tag: str
    created: str

    def authentic(self, key: ChainKey) -> bool:
        return hmac.compare_digest(self.tag, key.tag(self.keyed_from, self.key_id))


def has_marker_table(conn: sqlite3.Connection) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_chain'"
    return conn.execute(sql).fetchone() is not None


def read_marker(conn: sqlite3.Connection) -> Marker | None:
    """The marker, or None (an old database, or one whose marker was deleted)."""
    if not has_marker_table(conn):
        return None
    row = conn.execute(
        "SELECT keyed_from, key_id, tag, created FROM audit_chain ORDER BY rowid LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    keyed_from, key_id, tag, created = row
    return Marker(int(keyed_from), str(key_id), str(tag), str(created))


def write_marker(conn: sqlite3.Connection, key: ChainKey, created: str) -> Marker:
    """Record that every event from the next id on is keyed with ``key`` (once, in one
    transaction with reading the last id, so the boundary is exact)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = read_marker(conn)
        if found is not None:
            conn.execute("ROLLBACK")
            return found
        last = conn.execute("SELECT max(id) FROM events").fetchone()[0]
        keyed_from = (last or 0) + 1
        marker = Marker(keyed_from, key.key_id, key.tag(keyed_from, key.key_id), created)
        conn.execute(
            "INSERT INTO audit_chain (keyed_from, key_id, tag, created) VALUES (?, ?, ?, ?)",
            (marker.keyed_from, marker.key_id, marker.tag, marker.created),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return marker
