"""The audit store against real SQLite files: durability, batching, incidents, chain."""

from __future__ import annotations

import asyncio
import math
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kit.audit_chain import summary
from medic.audit import query as q
from medic.audit.events import AuditEvent, Kind
from medic.audit.store import INTERRUPTED_REASON, ActionRecord, AuditStore
from medic.errors import MedicError

pytestmark = pytest.mark.integration

T0 = 1_700_000_000.0


def ev(kind: Kind, offset: float = 0.0, **fields: object) -> AuditEvent:
    return AuditEvent(kind=kind, time=T0 + offset, **fields)  # type: ignore[arg-type]


def rows(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Read through a separate, plain sqlite3 connection (what another process sees)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "audit.db"


@pytest_asyncio.fixture
async def store(db_path: Path) -> AsyncIterator[AuditStore]:
    s = AuditStore(db_path, host="node1")
    await s.start()
    yield s
    await s.close()


@pytest.mark.asyncio
async def test_start_creates_a_wal_database_with_the_schema(db_path: Path) -> None:
    """start() makes the parent directory, the file in WAL mode and runs migrations once."""
    for _ in range(2):
        s = AuditStore(db_path, host="node1")
        await s.start()
        await s.close()
    assert rows(db_path, "PRAGMA journal_mode") == [("wal",)]
    assert rows(db_path, "SELECT name FROM _migrations ORDER BY name") == [
        ("0001_events_and_incidents",),
        ("0002_outbox",),
        ("0003_silences_and_approvals",),
        ("0004_audit_chain",),
        ("0005_audit_anchor",),
        ("0006_samples",),
        ("0007_ship_cursor",),
        ("0008_link_uses",),
        ("0009_sample_runs",),
    ]


@pytest.mark.asyncio
async def test_emit_durable_is_committed_when_it_returns(store: AuditStore, db_path: Path) -> None:
    """Another connection sees the event as soon as emit_durable returns."""
    await store.emit_durable(ev(Kind.ACTION_STARTED, policy="p", target="t", action="a1"))
    assert rows(db_path, "SELECT kind, host, policy, action FROM events") == [
        ("action.started", "node1", "p", "a1")
    ]


@pytest.mark.asyncio
async def test_many_events_are_batched_and_all_written(db_path: Path) -> None:
    """20,000 emits followed by flush() are all in the file, in order, chained."""
    s = AuditStore(db_path, host="node1", batch_size=500)
    await s.start()
    for i in range(20_000):
        s.emit(ev(Kind.PROBE_FAILED, i / 1000, policy="p", target="t", details={"i": i}))
    await s.flush()
    assert rows(db_path, "SELECT count(*), min(id), max(id) FROM events") == [(20_000, 1, 20_000)]
    assert rows(db_path, "SELECT details FROM events WHERE id = 20000") == [('{"i":19999}',)]
    await s.close()
    assert summary(db_path) == (True, None, 20_000)


@pytest.mark.asyncio
async def test_close_writes_what_was_queued(db_path: Path) -> None:
    """Events emitted just before close() are written, not dropped."""
    s = AuditStore(db_path, host="node1", flush_interval=10.0)
    await s.start()
    for i in range(10):
        s.emit(ev(Kind.PROBE_FAILED, i))
    await s.close()
    assert rows(db_path, "SELECT count(*) FROM events") == [(10,)]


@pytest.mark.asyncio
async def test_crash_between_intent_and_outcome_is_marked_interrupted(db_path: Path) -> None:
    """An action.started without outcome gets exactly one action.interrupted, durably."""
    first = AuditStore(db_path, host="node1")
    await first.start()
    await first.emit_durable(
        ev(Kind.ACTION_STARTED, policy="p", target="t", incident="i1", action="i1/1/restart")
    )
    await first.emit_durable(ev(Kind.ACTION_STARTED, 1, policy="p", target="u", action="done"))
    await first.emit_durable(ev(Kind.ACTION_SUCCEEDED, 2, policy="p", target="u", action="done"))
    await first.close()  # the agent dies before the first action's outcome

    second = AuditStore(db_path, host="node1")
    await second.start()
    recovered = await second.recover_interrupted()
    await second.close()
    assert [(e.kind, e.policy, e.target, e.incident, e.action) for e in recovered] == [
        (Kind.ACTION_INTERRUPTED, "p", "t", "i1", "i1/1/restart")
    ]
    assert recovered[0].details == {"reason": INTERRUPTED_REASON}
    assert rows(
        db_path,
        "SELECT policy, target, incident, action, details FROM events WHERE kind = ?",
        "action.interrupted",
    ) == [("p", "t", "i1", "i1/1/restart", '{"reason":"agent stopped before the action finished"}')]

    third = AuditStore(db_path, host="node1")
    await third.start()
    assert await third.recover_interrupted() == []
    await third.close()
    assert rows(db_path, "SELECT count(*) FROM events WHERE kind = 'action.interrupted'") == [(1,)]


@pytest.mark.asyncio
async def test_a_repeated_action_is_matched_to_the_outcome_after_it(store: AuditStore) -> None:
    """A second start of the same action after an earlier outcome is still unfinished."""
    store.emit(ev(Kind.ACTION_STARTED, 0, policy="p", target="t", action="restart"))
    store.emit(ev(Kind.ACTION_FAILED, 1, policy="p", target="t", action="restart"))
    store.emit(ev(Kind.ACTION_STARTED, 2, policy="p", target="t", action="restart"))
    recovered = await store.recover_interrupted()
    assert [(e.action, e.time > T0) for e in recovered] == [("restart", True)]


@pytest.mark.asyncio
async def test_incidents_follow_their_events(store: AuditStore) -> None:
    """detected opens, escalated marks, verify.healed / incident.cleared close an incident."""
    store.emit(ev(Kind.DETECTED, 0, policy="web", target="c1", incident="a"))
    store.emit(ev(Kind.DETECTED, 1, policy="web", target="c2", incident="b"))
    store.emit(ev(Kind.DETECTED, 2, policy="db", target="pg", incident="c"))
    store.emit(ev(Kind.FIRED, 3, policy="web", target="c1", incident="a"))
    await store.flush()
    assert await store.open_incidents() == {
        ("web", "c1"): "a",
        ("web", "c2"): "b",
        ("db", "pg"): "c",
    }

    store.emit(ev(Kind.ESCALATED, 4, policy="web", target="c1", incident="a"))
    store.emit(ev(Kind.VERIFY_HEALED, 5, policy="web", target="c1", incident="a"))
    store.emit(ev(Kind.CLEARED, 6, policy="web", target="c2", incident="b"))
    store.emit(ev(Kind.NOTIFY_SENT, 7, policy="web", target="c1", incident="a"))
    store.emit(ev(Kind.CLEARED, 8, policy="web", target="c1", incident="a"))  # already closed
    store.emit(ev(Kind.DETECTED, 9, policy="db", target="pg2", incident="d"))
    store.emit(ev(Kind.VERIFY_HEALED, 10, policy="db", target="pg2", incident="d"))
    store.emit(ev(Kind.CLEARED, 11, policy="db", target="pg3", incident="e"))  # first and last
    await store.flush()
    summary = {
        i["id"]: (i["status"], i["escalated"], i["opened"], i["closed"], i["last_event"])
        for i in await store.incidents()
    }
    assert summary == {
        "a": (
            "healed",
            True,
            "2023-11-14T22:13:20.000000Z",
            "2023-11-14T22:13:25.000000Z",
            "2023-11-14T22:13:28.000000Z",
        ),
        "b": (
            "cleared",
            False,
            "2023-11-14T22:13:21.000000Z",
            "2023-11-14T22:13:26.000000Z",
            "2023-11-14T22:13:26.000000Z",
        ),
        "c": ("open", False, "2023-11-14T22:13:22.000000Z", None, "2023-11-14T22:13:22.000000Z"),
        "d": (
            "healed",
            False,
            "2023-11-14T22:13:29.000000Z",
            "2023-11-14T22:13:30.000000Z",
            "2023-11-14T22:13:30.000000Z",
        ),
        "e": (
            "cleared",
            False,
            "2023-11-14T22:13:31.000000Z",
            "2023-11-14T22:13:31.000000Z",
            "2023-11-14T22:13:31.000000Z",
        ),
    }
    assert await store.open_incidents() == {("db", "pg"): "c"}
    assert [i["id"] for i in await store.incidents(open_only=True)] == ["c"]
    assert [i["id"] for i in await store.incidents(policy="web", limit=1)] == ["b"]
    assert [i["id"] for i in await store.incidents(limit=2)] == ["e", "d"]
    story = await store.incident_events("a")
    assert [e["kind"] for e in story] == [
        "incident.detected",
        "incident.fired",
        "incident.escalated",
        "verify.healed",
        "notification.sent",
        "incident.cleared",
    ]


@pytest.mark.asyncio
async def test_secrets_never_reach_the_file(store: AuditStore, db_path: Path) -> None:
    """Values, details and text columns are redacted before they are written."""
    await store.emit_durable(
        ev(
            Kind.PROBE_FAILED,
            policy="pg",
            target="postgres://app:hunter2@db/app",
            values={"dsn": "postgres://app:hunter2@db/app", "password": "hunter2"},
            details={"error": "auth failed", "headers": {"Authorization": "Bearer hunter2"}},
        )
    )
    dump = "\n".join(sqlite3.connect(db_path).iterdump())
    assert "hunter2" not in dump
    (target, values, details) = rows(db_path, 'SELECT target, "values", details FROM events')[0]
    assert target == "postgres://app:[redacted]@db/app"
    assert values == '{"dsn":"postgres://app:[redacted]@db/app","password":"[redacted]"}'
    assert details == '{"error":"auth failed","headers":{"Authorization":"[redacted]"}}'


@pytest.mark.asyncio
async def test_odd_values_are_stored_as_valid_json(store: AuditStore, db_path: Path) -> None:
    """NaN, sets, objects and non-string keys become JSON instead of failing the batch."""
    await store.emit_durable(
        ev(Kind.PROBE_FAILED, values={"ratio": math.nan, 1: {3}, "path": Path("/x")})
    )
    (values,) = rows(db_path, 'SELECT json("values") FROM events')[0]
    assert values == '{"1":[3],"path":"/x","ratio":"nan"}'


@pytest.mark.asyncio
async def test_action_history_is_what_limits_need(store: AuditStore) -> None:
    """Started and would-run actions since a time, oldest first, with dry and type."""
    store.emit(ev(Kind.ACTION_STARTED, 0, policy="p", target="t", action="x"))
    store.emit(
        ev(Kind.ACTION_STARTED, 10, policy="p", target="t", action="i/1", details={"type": "kill"})
    )
    store.emit(
        ev(
            Kind.ACTION_STARTED,
            12,
            policy="p",
            target="t",
            action="i/2",
            details={"type": "command", "step": 1},
        )
    )
    store.emit(ev(Kind.ACTION_SUCCEEDED, 11, policy="p", target="t", action="i/1"))
    store.emit(ev(Kind.ACTION_WOULD_RUN, 20, policy="q", target="u", action="container.restart"))
    store.emit(ev(Kind.SUPPRESSED, 30, policy="q", target="u"))
    await store.flush()
    assert await store.action_history(T0 + 5) == [
        ActionRecord(policy="p", target="t", time=T0 + 10, dry=False, action_type="kill"),
        ActionRecord(
            policy="p", target="t", time=T0 + 12, dry=False, action_type="command", step=1
        ),
        ActionRecord(
            policy="q", target="u", time=T0 + 20, dry=True, action_type="container.restart"
        ),
    ]


@pytest.mark.asyncio
async def test_observers_see_redacted_events_on_the_loop_thread(store: AuditStore) -> None:
    """on_event callbacks run on the loop thread, even for emits from other threads."""
    seen: list[tuple[str, object, int]] = []
    loop_thread = threading.get_ident()

    def broken(event: AuditEvent) -> None:
        raise RuntimeError("observer bug")

    store.on_event(broken)
    store.on_event(lambda e: seen.append((e.kind, e.details, threading.get_ident())))
    store.emit(ev(Kind.PROBE_FAILED, details={"token": "t"}))
    worker = threading.Thread(target=store.emit, args=(ev(Kind.PROBE_RECOVERED),))
    worker.start()
    worker.join()
    await asyncio.sleep(0)
    await store.flush()
    assert seen == [
        ("probe.failed", {"token": "[redacted]"}, loop_thread),
        ("probe.recovered", {}, loop_thread),
    ]
    assert len(await store.query(q.AuditQuery())) == 2


@pytest.mark.asyncio
async def test_hash_chain_continues_across_restarts_and_detects_tampering(db_path: Path) -> None:
    """The chain links events written by separate runs; editing a row breaks it there."""
    for run in range(2):
        s = AuditStore(db_path, host="node1")
        await s.start()
        for i in range(3):
            s.emit(ev(Kind.PROBE_FAILED, run * 10 + i, details={"i": i}))
        await s.close()
    assert summary(db_path) == (True, None, 6)
    writer = sqlite3.connect(db_path)
    writer.execute("UPDATE events SET details = '{\"i\":9}' WHERE id = 5")
    writer.commit()
    assert summary(db_path) == (False, 5, 5)
    writer.close()


@pytest.mark.asyncio
async def test_unstarted_store_refuses_durable_writes(db_path: Path) -> None:
    """emit_durable before start() raises instead of waiting forever."""
    s = AuditStore(db_path, host="node1")
    with pytest.raises(MedicError) as err:
        await s.emit_durable(ev(Kind.AGENT_STARTED))
    assert str(err.value) == f"the audit store for {db_path} is new, not running"


@pytest.mark.asyncio
async def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    """start() on garbage names the file and says what to check."""
    path = tmp_path / "audit.db"
    path.write_bytes(b"this is not sqlite" * 100)
    s = AuditStore(path, host="node1")
    with pytest.raises(MedicError) as err:
        await s.start()
    assert str(err.value) == f"cannot open the audit database {path}: file is not a database"
    assert err.value.hint == (
        "check that the state_dir is writable and the file is a Medic audit database"
    )


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from medic.audit.events import AuditEvent, Kind
    from medic.audit.store import AuditStore

    async def main() -> None:
        store = AuditStore(Path(sys.argv[1]), host="child", flush_interval=30.0)
        await store.start()
        await store.emit_durable(
            AuditEvent(Kind.ACTION_STARTED, 1.0, policy="p", target="t", action="a-1")
        )
        print("ok", flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def run_child_and_kill(db_path: Path) -> None:
    """Start the child, wait for its "ok", then SIGKILL it: no chance to clean up."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(timeout=20), "the child never reported"
        assert proc.stdout.readline() == "ok\n"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.asyncio
async def test_kill_9_after_emit_durable_loses_nothing(db_path: Path) -> None:
    """A process SIGKILLed right after emit_durable() leaves the event in the file."""
    await asyncio.to_thread(run_child_and_kill, db_path)
    assert rows(db_path, "SELECT kind, host, action FROM events") == [
        ("action.started", "child", "a-1")
    ]
    s = AuditStore(db_path, host="node1")
    await s.start()
    recovered = await s.recover_interrupted()
    await s.close()
    assert [e.action for e in recovered] == ["a-1"]
