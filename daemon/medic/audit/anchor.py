"""The retention anchor: where the hash chain resumes once its oldest events are pruned.

Pruning deletes events from the front of the chain. The ``audit_anchor`` row says how
many events were pruned in all (``count``), the id and the hash of the last of them;
the first remaining event's ``prev_hash`` must equal that hash. The row carries an
HMAC tag under the chain's key, so whoever can write ``audit.db`` but not read the
key can neither move the anchor forward (to hide deleting more events) nor back.
Chain positions stay global: a checkpoint ``COUNT:HASH`` taken before a prune still
names the same event afterwards, as long as that event was not pruned.
"""

from __future__ import annotations

import hmac
import sqlite3
from dataclasses import dataclass

from medic.audit.chain import GENESIS, ChainKey


@dataclass(frozen=True)
class Anchor:
    """``count`` events pruned, the last with id ``last_id`` and hash ``hash``."""

    count: int
    last_id: int
    hash: str
    tag: str

    def authentic(self, key: ChainKey) -> bool:
        return hmac.compare_digest(self.tag, key.anchor_tag(self.count, self.last_id, self.hash))


def has_anchor_table(conn: sqlite3.Connection) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_anchor'"
    return conn.execute(sql).fetchone() is not None


def read_anchor(conn: sqlite3.Connection) -> Anchor | None:
    """The anchor, or None when nothing was ever pruned (or the schema predates it)."""
    if not has_anchor_table(conn):
        return None
    rows = conn.execute("SELECT count, last_id, hash, tag FROM audit_anchor").fetchall()
    if not rows:
        return None
    if len(rows) > 1:  # never written so; a forged second row must not be trusted
        return Anchor(-1, -1, GENESIS, "")
    count, last_id, hash_, tag = rows[0]
    return Anchor(int(count), int(last_id), str(hash_), str(tag))


def write_anchor(
    conn: sqlite3.Connection, key: ChainKey, count: int, last_id: int, hash_: str, now: str
) -> Anchor:
    """Replace the anchor, inside the caller's transaction (the one that deletes)."""
    anchor = Anchor(count, last_id, hash_, key.anchor_tag(count, last_id, hash_))
    conn.execute("DELETE FROM audit_anchor")
    conn.execute(
        "INSERT INTO audit_anchor (count, last_id, hash, tag, updated) VALUES (?, ?, ?, ?, ?)",
        (anchor.count, anchor.last_id, anchor.hash, anchor.tag, now),
    )
    return anchor


def chain_head(conn: sqlite3.Connection) -> tuple[int, str]:
    """(events ever written, hash of the last): pruned events count, so positions
    and checkpoints stay the same across a prune."""
    anchor = read_anchor(conn)
    pruned, start = (anchor.count, anchor.hash) if anchor is not None else (0, GENESIS)
    count, last = conn.execute(
        "SELECT count(*), (SELECT hash FROM events ORDER BY id DESC LIMIT 1) FROM events"
    ).fetchone()
    return pruned + count, last or start
