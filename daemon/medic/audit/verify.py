"""Checking the audit log: recompute the chain, and hold it against checkpoints.

:func:`verify` walks every event in id order. Events before the ``audit_chain`` marker
(written by agents that had no key) are checked with their plain SHA-256 links,
the rest with the key. A checkpoint ``COUNT:HASH`` (the chain head an agent sent off
the host earlier) must match the event at that position: a log that is shorter was
cut, one whose event there differs was rewritten. After retention pruned the oldest
events, the walk starts at the authenticated anchor (:mod:`medic.audit.anchor`):
positions count the pruned events, and a checkpoint at or before the anchor is one
that pruning made uncheckable (only the anchor's own position is compared). What this
proves, and what it cannot, is in docs/audit.md.
"""

from __future__ import annotations

import hmac
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from medic.audit.anchor import Anchor, read_anchor
from medic.audit.chain import GENESIS, ChainKey, has_marker_table, read_marker, sha_link
from medic.audit.migrations import EVENT_COLUMNS

_CHAIN_BROKEN = "does not match the hash chain (edited, inserted, or an event before it deleted)"


@dataclass(frozen=True)
class Checkpoint:
    """The chain head at one moment: ``count`` events, the last with hash ``head``."""

    count: int
    head: str
    time: str | None = None

    def __str__(self) -> str:
        return f"{self.count}:{self.head}"


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found. ``bad`` is the id of the first bad event (None when the
    problem is not one event, e.g. truncation); ``legacy`` counts the events checked
    with unkeyed links; ``checkable`` is False when the log could not be checked at all
    (no key, or the wrong one)."""

    ok: bool
    checked: int
    reason: str = ""
    bad: int | None = None
    legacy: int = 0
    keyed: bool = False
    checkpoints: int = 0
    head: Checkpoint | None = None
    checkable: bool = True
    # Events pruned by retention before the first one checked (0: none).
    pruned: int = 0


def verify(
    conn: sqlite3.Connection, key: ChainKey | None, checkpoints: Sequence[Checkpoint] = ()
) -> Verdict:
    """Recompute the chain of ``conn``'s events (with ``key`` where it is keyed) and
    compare it with ``checkpoints``; stops at the first problem."""
    start = _keyed_from(conn, key)
    if isinstance(start, Verdict):
        return start
    keyed_from, broken = start
    anchor = _anchor(conn, key)
    if isinstance(anchor, Verdict):
        return anchor
    pruned, after, expected = (
        (anchor.count, anchor.last_id, anchor.hash) if anchor else (0, 0, GENESIS)
    )
    wanted = {cp.count: cp for cp in checkpoints if cp.count > pruned}
    at_anchor = next((cp for cp in checkpoints if cp.count == pruned and pruned), None)
    if at_anchor is not None and not hmac.compare_digest(at_anchor.head, expected):
        why = f"the retention anchor does not match checkpoint {at_anchor} (the log was rewritten)"
        return Verdict(False, pruned, why, None, 0, keyed_from > 0, pruned=pruned)
    columns = ", ".join(f'"{column}"' for column in EVENT_COLUMNS)
    count, legacy = pruned, 0
    sql = f"SELECT id, {columns} FROM events WHERE id > ? ORDER BY id"  # noqa: S608 -- fixed column names
    for row in conn.execute(sql, (after,)):
        count += 1
        event_id, stored, stored_hash = row[0], row[1:-1], row[-1]
        if keyed_from and event_id >= keyed_from:
            assert key is not None
            link = key.link(expected, stored)
        else:
            legacy += 1
            link = sha_link(expected, stored)
        if stored[-1] != expected or not hmac.compare_digest(link, str(stored_hash)):
            rewritten = keyed_from and event_id >= keyed_from and broken == _CHAIN_BROKEN
            if rewritten and sha_link(expected, stored) == stored_hash:
                why = "was rewritten without the key (its hash is unkeyed SHA-256)"
                return Verdict(False, count, why, event_id, legacy, True)
            return Verdict(False, count, broken, event_id, legacy, keyed_from > 0)
        point = wanted.get(count)
        if point is not None and not hmac.compare_digest(point.head, str(stored_hash)):
            why = f"does not match checkpoint {point} (the log was rewritten up to here)"
            return Verdict(False, count, why, event_id, legacy, keyed_from > 0)
        expected = stored_hash
    head = Checkpoint(count, expected)
    beyond = [cp for cp in checkpoints if cp.count > count]
    if beyond:
        first = min(beyond, key=lambda cp: cp.count)
        why = (
            f"the log ends after {count} events but checkpoint {first} had {first.count}:"
            " events were deleted from the end"
        )
        return Verdict(False, count, why, None, legacy, keyed_from > 0, head=head, pruned=pruned)
    matched = sum(1 for cp in checkpoints if cp.count > pruned or cp == at_anchor)
    return Verdict(True, count, "", None, legacy, keyed_from > 0, matched, head, pruned=pruned)


def _anchor(conn: sqlite3.Connection, key: ChainKey | None) -> Anchor | Verdict | None:
    """The retention anchor if there is one and it is authentic; else what is wrong."""
    anchor = read_anchor(conn)
    if anchor is None:
        return None
    if key is None:
        why = "events were pruned and no key was given to check the anchor (--key-file or --config)"
        return Verdict(False, 0, why, checkable=False)
    if not anchor.authentic(key):
        return Verdict(False, 0, "the audit_anchor row (where the pruned chain resumes) was edited")
    stale = conn.execute("SELECT min(id) FROM events WHERE id <= ?", (anchor.last_id,)).fetchone()
    if stale[0] is not None:
        why = "is at or before the retention anchor: the anchor was moved or events re-inserted"
        return Verdict(False, 0, why, int(stale[0]))
    return anchor


def _keyed_from(conn: sqlite3.Connection, key: ChainKey | None) -> tuple[int, str] | Verdict:
    """The first keyed event id (0: none are) and how to describe a broken link; or the
    verdict when the log cannot be checked with ``key``."""
    marker = read_marker(conn)
    keyed_db = has_marker_table(conn)
    if key is None and keyed_db and conn.execute("SELECT 1 FROM events LIMIT 1").fetchone():
        why = "the chain is keyed and no key was given (--key-file or --config)"
        return Verdict(False, 0, why, checkable=False)
    broken = _CHAIN_BROKEN
    if marker is not None and key is not None:
        if key.key_id != marker.key_id:
            return Verdict(
                False,
                0,
                f"the key from {key.source} (id {key.key_id}) is not the key this"
                f" database was written with (id {marker.key_id})",
                checkable=False,
            )
        if not marker.authentic(key):
            return Verdict(
                False, 0, "the audit_chain row (where the keyed chain starts) was edited"
            )
        keyed_from = marker.keyed_from
    elif keyed_db and key is not None:
        keyed_from = 1  # a keyed database whose marker is gone: every event must be keyed
        broken = "is not keyed and the audit_chain row that would allow that is missing"
    else:
        keyed_from = 0  # written only by agents before keys
    return keyed_from, broken
