"""Shipping the audit log to a real central PostgreSQL: once each, even across an outage."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner

from kit.central import ADMIN_DSN
from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.cli import main
from medic.errors import FleetError
from medic.fleet.ship import Shipper

pytestmark = [pytest.mark.integration]


async def _set_down(name: str, down: bool) -> None:
    """The central database refuses (and drops) connections, or takes them again."""
    admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(not down).lower()}")
        if down:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
            )
    finally:
        await admin.close()


async def _central_ids(name: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}", timeout=10)
    try:
        rows = await conn.fetch("SELECT host, id FROM events ORDER BY id")
    finally:
        await conn.close()
    return [(r["host"], r["id"]) for r in rows]


def _emit(store: AuditStore, count: int) -> None:
    for i in range(count):
        store.emit(AuditEvent(Kind.DETECTED, 1.0e9 + i, policy="p", target=f"t{i}"))


@pytest.mark.asyncio
async def test_events_arrive_once_each_after_the_central_db_was_down(
    central: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events queued while the central database refused connections arrive after it
    returns, each exactly once, even when a batch is shipped twice."""
    monkeypatch.setenv("CENTRAL_DSN", ADMIN_DSN.rsplit("/", 1)[0] + f"/{central}")
    store = AuditStore(tmp_path / "audit.db", host="node-a")
    await store.start()
    shipper = Shipper(store, {"env": "CENTRAL_DSN"}, every=0.1)
    try:
        _emit(store, 5)
        await store.flush()
        assert await shipper.ship_once() == 5
        await _set_down(central, True)
        _emit(store, 7)
        await store.flush()
        for _ in range(3):  # down for a while: every round fails, nothing is lost
            with pytest.raises(FleetError):
                await shipper.ship_once()
        await _set_down(central, False)
        assert await shipper.ship_once() == 7
        # A crash between the insert and the cursor's move repeats the batch.
        await store.write(lambda conn: conn.execute("UPDATE ship_cursor SET last_id = 2"))
        assert await shipper.ship_once() == 10
        ids = await _central_ids(central)
        assert ids == [("node-a", i) for i in range(1, 13)]
    finally:
        await shipper.stop()
        await store.close()


@pytest.mark.asyncio
async def test_audit_list_central_reads_the_fleets_events(
    central: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`medic audit list --central` lists events from the central database."""
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{central}"
    monkeypatch.setenv("MEDIC_CENTRAL_AUDIT_DSN", dsn)
    monkeypatch.setenv("CENTRAL_DSN", dsn)
    store = AuditStore(tmp_path / "audit.db", host="node-b")
    await store.start()
    shipper = Shipper(store, {"env": "CENTRAL_DSN"}, every=0.1)
    try:
        _emit(store, 3)
        await store.flush()
        await shipper.ship_once()
    finally:
        await shipper.stop()
        await store.close()
    args = ["audit", "list", "--central", "--format", "jsonl", "--target", "t1"]
    result = await asyncio.to_thread(CliRunner().invoke, main, args)
    assert result.exit_code == 0, result.output
    assert '"target": "t1"' in result.output
    assert result.output.count("\n") == 1


def _incident_events(store: AuditStore, incident: str, base: float, close: bool) -> None:
    if not close:
        store.emit(
            AuditEvent(Kind.FIRED, base, policy="web-down", target="web1", incident=incident)
        )
    else:
        store.emit(
            AuditEvent(Kind.CLEARED, base + 5, policy="web-down", target="web1", incident=incident)
        )


async def _ship_two_hosts(central: str, tmp_path: Path) -> None:
    """node-a has a closed incident, node-b an open one; both shipped."""
    for host, incident, close in (("node-a", "inc-a1", True), ("node-b", "inc-b1", False)):
        store = AuditStore(tmp_path / f"{host}.db", host=host)
        await store.start()
        shipper = Shipper(store, {"env": "CENTRAL_DSN"}, every=0.1)
        try:
            _incident_events(store, incident, 1.0e9, close=False)
            await store.flush()
            await shipper.ship_once()
            if close:  # the change arrives with a later batch and updates the row
                _incident_events(store, incident, 1.0e9 + 10, close=True)
                await store.flush()
                await shipper.ship_once()
                await store.write(lambda conn: conn.execute("UPDATE ship_cursor SET last_id = 0"))
                await shipper.ship_once()  # shipped twice: still one row
        finally:
            await shipper.stop()
            await store.close()


def _cli(*args: str) -> list[str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


@pytest.mark.asyncio
async def test_incidents_are_shipped_once_and_follow_their_changes(
    central: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`audit incidents --central` lists every host's incidents, one row each, closed
    ones closed (the row was updated when the later events were shipped)."""
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{central}"
    monkeypatch.setenv("MEDIC_CENTRAL_AUDIT_DSN", dsn)
    monkeypatch.setenv("CENTRAL_DSN", dsn)
    await _ship_two_hosts(central, tmp_path)
    lines = await asyncio.to_thread(_cli, "audit", "incidents", "--central", "-o", "jsonl")
    rows = [json.loads(line) for line in lines]
    assert sorted((r["host"], r["id"], r["status"]) for r in rows) == [
        ("node-a", "inc-a1", "cleared"),
        ("node-b", "inc-b1", "open"),
    ]
    opened = await asyncio.to_thread(
        _cli, "audit", "incidents", "--central", "--open", "--policy", "web-*", "-o", "jsonl"
    )
    assert [json.loads(line)["id"] for line in opened] == ["inc-b1"]


@pytest.mark.asyncio
async def test_show_and_export_read_the_central_database(
    central: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`audit show --central` finds an incident by prefix with its story; `audit export
    --central` writes every host's events oldest first; globs work on PostgreSQL."""
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{central}"
    monkeypatch.setenv("MEDIC_CENTRAL_AUDIT_DSN", dsn)
    monkeypatch.setenv("CENTRAL_DSN", dsn)
    await _ship_two_hosts(central, tmp_path)
    shown = await asyncio.to_thread(_cli, "audit", "show", "--central", "inc-a", "-o", "json")
    story = json.loads("\n".join(shown))
    assert (story["incident"]["host"], story["incident"]["status"]) == ("node-a", "cleared")
    assert [e["kind"] for e in story["events"]] == ["incident.fired", "incident.cleared"]
    ambiguous = await asyncio.to_thread(
        CliRunner().invoke, main, ["audit", "show", "--central", "inc-"]
    )
    assert ambiguous.exit_code == 1
    assert "is ambiguous" in ambiguous.output
    exported = await asyncio.to_thread(
        _cli, "audit", "export", "--central", "--target", "web?", "--kind", "incident."
    )
    rows = [json.loads(line) for line in exported]
    assert [(r["host"], r["kind"]) for r in rows] == [
        ("node-a", "incident.fired"),
        ("node-b", "incident.fired"),
        ("node-a", "incident.cleared"),
    ]
    assert all(r["hash"] for r in rows)
