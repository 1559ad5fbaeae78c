"""No audit, no action: a full disk stops acting, raises the alarm once, and heals by itself.

The audit DB lives on a real 2 MiB tmpfs that the test fills up and frees.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kit.policies import make_policy
from kit.runner import Kit, RecordAction, open_kit, record_steps, settle
from kit.small_disk import SmallDisk, small_disk
from medic.engine.core import state as st
from medic.notify.base import Notification, Notifier
from medic.policy.model import Limits

HIGH = {"value": 99}


class Pager(Notifier):
    """A channel that keeps what it was sent (in memory: it needs no disk)."""

    type_name = "test.pager"

    def __init__(self) -> None:
        super().__init__("pager", {})
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)


@pytest.fixture
def disk(tmp_path: Path) -> Any:
    with small_disk(tmp_path / "disk") as d:
        yield d


@pytest_asyncio.fixture
async def full_kit(disk: SmallDisk, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kit]:
    async with open_kit(disk.root / "audit.db", monkeypatch) as kit:
        kit.engine.alarm.retry = 0.05
        kit.engine.alarm.channels = {"pager": Pager()}
        yield kit


async def until(check: Any) -> None:
    """Wait (at most 10 s) for ``check()`` to be true."""
    async with asyncio.timeout(10):
        while not check():  # noqa: ASYNC110 -- polls state other tasks change
            await asyncio.sleep(0.02)


def kinds_on_disk(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [k for (k,) in conn.execute("select kind from events order by id")]


@pytest.mark.asyncio
async def test_intent_unwritable_runs_nothing_then_acts_once_space_returns(
    full_kit: Kit, disk: SmallDisk
) -> None:
    """Disk full: the step does not run and the target goes back to firing (not stuck in
    remediating, no attempt used); space back: the alarm clears and the next evaluation acts."""
    kit = full_kit
    runner = kit.runner(make_policy(remediate=record_steps(), limits=Limits(max=1, per=3600)))
    runner.probe.readings = {"db-1": HIGH}  # type: ignore[attr-defined]
    disk.fill()
    await runner.evaluate()
    await settle(runner)
    assert RecordAction.runs == []
    assert runner.states["db-1"].phase == st.Phase.FIRING
    assert runner.states["db-1"].attempts == 0
    assert not kit.engine.alarm.writable
    kit.clock.advance(5)
    await runner.evaluate()  # still full: refused at the gate, still nothing runs
    await settle(runner)
    assert RecordAction.runs == []
    assert kit.of("action.suppressed")[-1].outcome == "audit_unwritable"
    disk.free()
    await until(lambda: kit.engine.alarm.writable)
    kit.clock.advance(5)
    await runner.evaluate()
    await settle(runner)
    assert RecordAction.runs == ["db-1"]  # the limit (max 1) was not used up by the outage
    await kit.engine.audit.flush()
    on_disk = kinds_on_disk(disk.root / "audit.db")
    assert on_disk.count("audit.recovered") == 1
    assert on_disk.index("audit.recovered") < on_disk.index("action.started")


@pytest.mark.asyncio
async def test_one_direct_page_per_outage_and_a_resolve_after(
    full_kit: Kit, disk: SmallDisk
) -> None:
    """However many writes fail, the pager hears once (not via the outbox), then a resolve."""
    kit = full_kit
    runner = kit.runner(make_policy(remediate=record_steps()))
    runner.probe.readings = {"a": HIGH, "b": HIGH}  # type: ignore[attr-defined]
    disk.fill()
    for _ in range(3):
        await runner.evaluate()
        await settle(runner)
        kit.clock.advance(1)
    pager = kit.engine.alarm.channels["pager"]
    assert isinstance(pager, Pager)
    await until(lambda: len(pager.sent) == 1)
    (page,) = pager.sent
    assert (page.kind, page.reason) == ("escalation", "audit_unwritable")
    assert "cannot write its audit log" in page.summary and "stopped acting" in page.summary
    assert "database or disk is full" in page.summary
    disk.free()
    await until(lambda: len(pager.sent) == 2)
    assert pager.sent[1].kind == "resolve" and pager.sent[1].incident == page.incident
