"""Retention: pruning a real audit database through the real writer, chain still verifiable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from medic.audit.events import AuditEvent, Kind
from medic.audit.key import load_key
from medic.audit.options import AuditOptions
from medic.audit.retention import ChainBroken, Retention
from medic.audit.retention_options import RetentionOptions
from medic.audit.store import AuditStore
from medic.audit.verify import Checkpoint, Verdict, verify
from medic.clock import iso

pytestmark = pytest.mark.integration
NOW = 1_750_000_000.0
DAY = 86400.0


async def started(path: Path) -> AuditStore:
    store = AuditStore(path, host="node1", options=AuditOptions())
    await store.start()
    return store


async def fill(store: AuditStore, start: float, count: int, size: int = 10) -> None:
    """``count`` events one second apart from ``start``, each with ``size`` bytes of details."""
    for i in range(count):
        details = {"i": i, "pad": "x" * size}
        store.emit(AuditEvent(Kind.PROBE_FAILED, start + i, policy="p", details=details))
    await store.flush()


def check(path: Path, checkpoints: tuple[Checkpoint, ...] = ()) -> Verdict:
    conn = sqlite3.connect(path)
    try:
        return verify(conn, load_key(None, path, create=False), checkpoints)
    finally:
        conn.close()


def kinds(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT kind FROM events ORDER BY id")]
    finally:
        conn.close()


@pytest.mark.asyncio
async def test_prune_by_age_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    """Events older than max_age go; verify still says intact, counting from the anchor."""
    db = tmp_path / "audit.db"
    store = await started(db)
    await fill(store, NOW - 100 * DAY, 4500)  # several batches and a bit
    await fill(store, NOW - DAY, 5)
    head_before = store.head()
    retention = Retention(store, RetentionOptions(max_age=90 * DAY), lambda: NOW)
    done = await retention.prune()
    assert done["events"] == 4500
    await store.flush()
    assert store.head()[0] == head_before[0] + 1  # positions count pruned events
    await store.close()
    assert kinds(db) == [Kind.PROBE_FAILED.value] * 5 + ["audit.pruned"]
    verdict = check(db, (Checkpoint(*head_before),))
    assert (verdict.ok, verdict.checked, verdict.pruned, verdict.checkpoints) == (
        True,
        4506,
        4500,
        1,
    )


@pytest.mark.asyncio
async def test_pruned_event_is_audited_with_the_anchor(tmp_path: Path) -> None:
    """audit.pruned says how many rows went from which table, and where the chain resumes."""
    db = tmp_path / "audit.db"
    store = await started(db)
    await fill(store, NOW - 100 * DAY, 3)
    await fill(store, NOW, 1)
    conn = sqlite3.connect(db)
    anchor_hash = conn.execute("SELECT hash FROM events WHERE id = 3").fetchone()[0]
    conn.close()
    seen: list[AuditEvent] = []
    store.on_event(seen.append)
    await Retention(store, RetentionOptions(max_age=90 * DAY), lambda: NOW).prune()
    await store.close()
    [event] = [e for e in seen if e.kind == Kind.AUDIT_PRUNED]
    assert event.details == {"deleted": {"events": 3}, "anchor": {"count": 3, "hash": anchor_hash}}


@pytest.mark.asyncio
async def test_edit_and_cut_after_pruning_are_caught(tmp_path: Path) -> None:
    """After a prune, an edited event, a moved anchor and a cut tail all still fail verify."""
    db = tmp_path / "audit.db"
    store = await started(db)
    await fill(store, NOW - 100 * DAY, 10)
    await fill(store, NOW, 10)
    await Retention(store, RetentionOptions(max_age=90 * DAY), lambda: NOW).prune()
    await store.flush()
    head = Checkpoint(*store.head())
    await store.close()
    assert check(db, (head,)).ok
    conn = sqlite3.connect(db)
    first = conn.execute("SELECT min(id) FROM events").fetchone()[0]
    conn.execute("UPDATE events SET policy = 'other' WHERE id = ?", (first + 3,))
    conn.commit()
    assert check(db).bad == first + 3
    conn.execute("UPDATE events SET policy = 'p' WHERE id = ?", (first + 3,))
    conn.execute("DELETE FROM events WHERE id = ?", (first,))  # the first one after the anchor
    conn.commit()
    assert check(db).bad == first + 1
    conn.execute("UPDATE audit_anchor SET count = count + 1, last_id = last_id + 1")
    conn.commit()
    assert check(db).reason == "the audit_anchor row (where the pruned chain resumes) was edited"
    conn.close()


@pytest.mark.asyncio
async def test_cut_tail_after_pruning_is_caught(tmp_path: Path) -> None:
    """A checkpoint taken after the prune still catches events deleted from the end."""
    db = tmp_path / "audit.db"
    store = await started(db)
    await fill(store, NOW - 100 * DAY, 10)
    await fill(store, NOW, 10)
    await Retention(store, RetentionOptions(max_age=90 * DAY), lambda: NOW).prune()
    await store.flush()
    head = Checkpoint(*store.head())
    await store.close()
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM events WHERE id = (SELECT max(id) FROM events)")
    conn.commit()
    conn.close()
    verdict = check(db, (head,))
    assert not verdict.ok and "deleted from the end" in verdict.reason


@pytest.mark.asyncio
async def test_a_broken_chain_is_never_pruned_away(tmp_path: Path) -> None:
    """An old event edited before the prune stops pruning: the evidence stays for verify."""
    db = tmp_path / "audit.db"
    store = await started(db)
    await fill(store, NOW - 100 * DAY, 10)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE events SET policy = 'forged' WHERE id = 4")
    conn.commit()
    conn.close()
    retention = Retention(store, RetentionOptions(max_age=90 * DAY), lambda: NOW)
    with pytest.raises(ChainBroken, match="event 4 does not chain"):
        await retention.prune()
    await store.close()
    assert len(kinds(db)) == 10
    assert check(db).bad == 4


@pytest.mark.asyncio
async def test_prune_by_size_spares_the_last_week(tmp_path: Path) -> None:
    """Over max_bytes the oldest events go until it fits, never ones younger than 7 days."""
    db = tmp_path / "audit.db"
    store = await started(db)
    await fill(store, NOW - 30 * DAY, 3000, size=1000)  # ~3 MiB, a month old
    await fill(store, NOW - DAY, 200, size=1000)  # recent
    options = RetentionOptions(max_bytes=2 * 1024 * 1024)
    done = await Retention(store, options, lambda: NOW).prune()
    assert 1000 < done["events"] <= 3000
    conn = sqlite3.connect(db)
    pages, free, size = (
        conn.execute(f"PRAGMA {p}").fetchone()[0]
        for p in ("page_count", "freelist_count", "page_size")
    )
    oldest = conn.execute("SELECT min(time) FROM events").fetchone()[0]
    conn.close()
    assert (pages - free) * size <= 2 * 1024 * 1024
    assert oldest < iso(NOW - 7 * DAY)  # it stopped as soon as the data fit
    tight = RetentionOptions(max_bytes=16 * 1024)  # cannot fit: the last week stays
    await Retention(store, tight, lambda: NOW).prune()
    await store.close()
    assert kinds(db).count(Kind.PROBE_FAILED.value) == 200
    assert check(db).ok


@pytest.mark.asyncio
async def test_other_tables_by_their_own_rules(tmp_path: Path) -> None:
    """Sent outbox rows, ended silences, expired approvals, closed incidents go."""
    db = tmp_path / "audit.db"
    store = await started(db)
    old, recent = iso(NOW - 100 * DAY), iso(NOW - DAY)

    def seed(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO outbox (key, notifier, kind, payload, created, next_attempt, state, sent)"
            " VALUES ('a', 'n', 'k', '{}', ?, ?, 'sent', ?), ('b', 'n', 'k', '{}', ?, ?,"
            " 'pending', NULL)",
            (old, old, old, old, old),
        )
        conn.execute(
            "INSERT INTO silences (id, created, starts, ends, author, reason, matchers)"
            " VALUES ('s1', ?, ?, ?, 'a', 'r', '{}'), ('s2', ?, ?, ?, 'a', 'r', '{}')",
            (old, old, old, old, old, recent),
        )
        conn.execute(
            "INSERT INTO approvals (incident, requested, expires) VALUES ('i1', ?, ?)", (old, old)
        )
        conn.execute(
            "INSERT INTO incidents (id, opened, closed, status) VALUES ('c', ?, ?, 'closed'),"
            " ('o', ?, NULL, 'open')",
            (old, old, old),
        )

    await store.write(seed)
    options = RetentionOptions(max_age=90 * DAY)
    done = await Retention(store, options, lambda: NOW).prune()
    await store.close()
    assert {k: v for k, v in done.items() if v} == {
        "outbox": 1,
        "silences": 1,
        "approvals": 1,
        "incidents": 1,
    }
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT key FROM outbox").fetchall() == [("b",)]
    assert conn.execute("SELECT id FROM silences").fetchall() == [("s2",)]
    assert conn.execute("SELECT id FROM incidents").fetchall() == [("o",)]
    conn.close()
