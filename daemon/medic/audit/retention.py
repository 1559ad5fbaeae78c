"""Retention: pruning the audit database in the background, through the one writer.

Every deletion is a small write operation queued on the writer
(:meth:`medic.audit.store.AuditStore.write`): at most :data:`BATCH` rows, then the
task sleeps for :data:`PAUSE` so events queued meanwhile are written first. The
writer is never held for long, and there is still only one writer.

Events go from the front of the chain only, each batch in one transaction with the
anchor (:mod:`medic.audit.anchor`) moved to the last event deleted, so
``medic audit verify`` resumes there. Before deleting, the batch's links are
recomputed from the current anchor: a chain already broken there (an edited or
deleted old event) is never pruned away and re-anchored; it stays for verify to
report, and pruning stops with an error in the log.

What goes, each by its own rule (docs/audit.md#retention):

- ``events`` older than ``max_age``; then, while the database uses more than
  ``max_bytes``, the oldest events, never ones younger than :data:`SIZE_FLOOR`;
- ``incidents`` closed, ``outbox`` rows sent or given up, ``link_uses`` spent,
  ``approvals`` expired and ``silences`` ended, each longer ago than ``max_age``;

Each pass that removed anything is audited as one ``audit.pruned`` event.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog

from medic.audit.anchor import Anchor, read_anchor, write_anchor
from medic.audit.chain import GENESIS, ChainKey, read_marker, sha_link
from medic.audit.events import AuditEvent, Kind
from medic.audit.migrations import EVENT_COLUMNS
from medic.audit.retention_options import RetentionOptions
from medic.audit.store import AuditStore
from medic.clock import iso
from medic.errors import MedicError

log = structlog.get_logger("medic.audit")

BATCH = 1000  # rows one write operation deletes at most
PAUSE = 0.01  # seconds between two batches: the writer takes queued events first
SIZE_FLOOR = 7 * 86400.0  # max_bytes never prunes events younger than this

# table -> the condition (on ``?`` = the cutoff time) under which a row has expired.
TABLE_RULES: dict[str, str] = {
    "incidents": "closed IS NOT NULL AND closed < ?",
    "outbox": "state IN ('sent', 'dead') AND coalesce(sent, next_attempt) < ?",
    "link_uses": "used < ?",
    "approvals": "expires < ?",
    "silences": "coalesce(min(ends, expired_early), ends) < ?",
}


class ChainBroken(MedicError):
    """The events retention was about to prune do not chain from the anchor."""


def prune_events(
    conn: sqlite3.Connection, key: ChainKey, cutoff: str, now: str, limit: int = BATCH
) -> tuple[int, Anchor | None]:
    """Delete up to ``limit`` of the oldest events written before ``cutoff`` and move
    the anchor past them; (events deleted, the new anchor)."""
    columns = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
    rows = conn.execute(
        f"SELECT id, {columns} FROM events ORDER BY id LIMIT ?",  # noqa: S608 -- fixed columns
        (limit,),
    ).fetchall()
    anchor = read_anchor(conn)
    if anchor is not None and not anchor.authentic(key):
        raise ChainBroken("the audit_anchor row is not authentic; not pruning")
    marker = read_marker(conn)
    keyed_from = marker.keyed_from if marker is not None else 0
    expected = anchor.hash if anchor is not None else GENESIS
    taken = 0
    last_id = 0
    for row in rows:
        event_id, stored, stored_hash = row[0], row[1:-1], str(row[-1])
        if stored[0] >= cutoff:
            break
        link = key.link if keyed_from and event_id >= keyed_from else sha_link
        if stored[-1] != expected or link(expected, stored) != stored_hash:
            raise ChainBroken(f"event {event_id} does not chain from the retention anchor")
        taken, last_id, expected = taken + 1, event_id, stored_hash
    if not taken:
        return 0, anchor
    conn.execute("DELETE FROM events WHERE id <= ?", (last_id,))
    pruned = anchor.count if anchor is not None else 0
    return taken, write_anchor(conn, key, pruned + taken, last_id, expected, now)


def prune_table(conn: sqlite3.Connection, table: str, rule: str, cutoff: Any) -> int:
    """Delete up to :data:`BATCH` rows of ``table`` matching ``rule``; how many went."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    if found.fetchone() is None:
        return 0
    cursor = conn.execute(
        f"DELETE FROM {table} WHERE rowid IN "  # noqa: S608 -- table and rule are ours
        f"(SELECT rowid FROM {table} WHERE {rule} LIMIT {BATCH})",
        (cutoff,) * rule.count("?"),
    )
    return max(cursor.rowcount, 0)


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes the database's live pages hold (freed pages are reused before it grows)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


class Retention:
    """Prunes ``store`` by ``options`` every ``options.every`` seconds."""

    def __init__(
        self, store: AuditStore, options: RetentionOptions, wall: Callable[[], float]
    ) -> None:
        self.store = store
        self.options = options
        self._wall = wall

    async def run(self) -> None:
        """Prune now and then every ``options.every`` seconds, until cancelled."""
        while True:
            try:
                await self.prune()
            except ChainBroken as exc:
                log.error("audit.retention_stopped", reason=str(exc))
            except Exception:  # a bug here must not stop the agent
                log.exception("audit.retention_failed")
            await asyncio.sleep(self.options.every)

    async def prune(self) -> Counter[str]:
        """One pass over every rule; returns the rows deleted per table."""
        key = self.store.chain_key
        if key is None:
            raise MedicError("retention needs a started audit store")
        now = self._wall()
        done: Counter[str] = Counter()
        anchor: Anchor | None = None
        opts = self.options
        if opts.max_age is not None:
            anchor = await self._events(key, iso(now - opts.max_age), now, done) or anchor
        if opts.max_bytes is not None:
            floor = iso(now - SIZE_FLOOR)
            while await self.store.write(used_bytes) > opts.max_bytes:
                step: Counter[str] = Counter()
                anchor = await self._events(key, floor, now, step, once=True) or anchor
                if not step["events"]:
                    log.warning("audit.over_max_bytes", max_bytes=opts.max_bytes, floor="7d")
                    break
                done.update(step)
        if opts.max_age is not None:
            for table, rule in TABLE_RULES.items():
                done[table] += await self._table(table, rule, iso(now - opts.max_age))
        removed = {table: n for table, n in done.items() if n}
        if removed:
            details: dict[str, Any] = {"deleted": removed}
            if anchor is not None:
                details["anchor"] = {"count": anchor.count, "hash": anchor.hash}
            self.store.emit(AuditEvent(Kind.AUDIT_PRUNED, now, details=details))
            log.info("audit.pruned", **removed)
        return done

    async def _events(
        self, key: ChainKey, cutoff: str, now: float, done: Counter[str], *, once: bool = False
    ) -> Anchor | None:
        anchor = None
        while True:
            count, moved = await self.store.write(
                lambda conn: prune_events(conn, key, cutoff, iso(now))
            )
            if not count:
                return anchor
            done["events"] += count
            anchor = moved
            if once:
                return anchor
            await asyncio.sleep(PAUSE)

    async def _table(self, table: str, rule: str, cutoff: Any) -> int:
        total = 0
        while count := await self.store.write(lambda c: prune_table(c, table, rule, cutoff)):
            total += count
            await asyncio.sleep(PAUSE)
        return total
