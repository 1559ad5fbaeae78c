"""The notification outbox on a real SQLite audit database, with an in-process channel."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from medic.audit.store import AuditStore
from medic.clock import FakeClock, SystemClock, iso, parse_iso
from medic.engine.escalation import Escalator, delivery_key
from medic.engine.state import Escalate
from medic.errors import NotifyError
from medic.notify.base import Notification, Notifier
from medic.notify.delivery import DeliveryOptions, backoff, decode
from medic.notify.outbox import Outbox, Pending

INCIDENT = "inc-1"


class Channel(Notifier):
    """Records every attempt; ``failures`` are raised (in order) before sends succeed."""

    type_name = "test"

    def __init__(self, name: str = "oncall") -> None:
        super().__init__(name, {})
        self.failures: list[BaseException] = []
        self.down = False
        self.hang = asyncio.Event()
        self.hang.set()
        self.attempts: list[tuple[str, str]] = []
        self.delivered: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.attempts.append((notification.incident, notification.kind))
        await self.hang.wait()
        if self.failures:
            raise self.failures.pop(0)
        if self.down:
            raise NotifyError(f"webhook {self.name}: cannot reach it", retryable=True)
        self.delivered.append(notification)


class Ceiling(random.Random):
    """Jitter that always picks the top of the range, so delays are exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


def note(kind: str = "escalation", incident: str = INCIDENT, reason: str = "x") -> Notification:
    return Notification(
        kind=kind,  # type: ignore[arg-type]  # a test picks either literal
        incident=incident,
        policy="web-down",
        target="web",
        host="node1",
        reason=reason,
        summary="web is down",
        time=iso(1_700_000_000.0),
        values={"up": False},
        history=({"step": "restart", "ok": False},),
    )


def pending(n: Notification, notifier: str = "oncall") -> Pending:
    return Pending(delivery_key(n, notifier), notifier, n)


def query(path: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


async def events(store: AuditStore, kind: str) -> list[dict[str, Any]]:
    await store.flush()
    found = query(
        store.path, "SELECT outcome, details FROM events WHERE kind = ? ORDER BY id", kind
    )
    return [{"outcome": o, **json.loads(d)} for o, d in found]


def outbox_rows(store: AuditStore) -> list[tuple[Any, ...]]:
    sql = "SELECT key, state, attempts, next_attempt, last_error FROM outbox ORDER BY id"
    return query(store.path, sql)


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[AuditStore]:
    s = AuditStore(tmp_path / "audit.db", host="node1")
    await s.start()
    yield s
    await s.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def channel() -> Channel:
    return Channel()


@pytest_asyncio.fixture
async def outbox(store: AuditStore, channel: Channel, clock: FakeClock) -> AsyncIterator[Outbox]:
    box = Outbox(store, {"oncall": channel}, clock, DeliveryOptions(max_age=3600), Ceiling())
    yield box
    await box.stop()


async def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30.0
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
async def test_enqueue_is_idempotent_per_key(outbox: Outbox, store: AuditStore) -> None:
    """The same key queued twice is one row; the second enqueue adds nothing."""
    assert await outbox.enqueue([pending(note())]) == 1
    assert await outbox.enqueue([pending(note()), pending(note())]) == 0
    assert [r[:3] for r in outbox_rows(store)] == [
        (f"{INCIDENT}:escalation:x:oncall", "pending", 0)
    ]


@pytest.mark.asyncio
async def test_delivers_the_notification_as_queued(
    outbox: Outbox, store: AuditStore, channel: Channel
) -> None:
    """A due row is sent once, marked sent and audited with attempt, channel and key."""
    await outbox.enqueue([pending(note())])
    await outbox.pump()
    assert channel.delivered == [note()]
    assert [r[1:3] for r in outbox_rows(store)] == [("sent", 1)]
    sent = await events(store, "notification.sent")
    assert sent == [
        {
            "outcome": "sent",
            "attempt": 1,
            "notifier": "oncall",
            "key": f"{INCIDENT}:escalation:x:oncall",
            "notification": "escalation",
            "reason": "x",
        }
    ]


def test_backoff_grows_with_full_jitter_up_to_the_cap() -> None:
    """Each retry waits at most base * 2**(n-1), never more than the cap, at random."""
    options = DeliveryOptions(base=2.0, max_backoff=300.0)
    ceilings = [backoff(n, options, Ceiling()) for n in range(1, 11)]
    assert ceilings == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0]
    rng = random.Random(7)  # noqa: S311 - jitter under test, not cryptography
    for n, ceiling in enumerate(ceilings, start=1):
        samples = [backoff(n, options, rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8 and min(samples) < ceiling * 0.2
    assert backoff(10_000, options, Ceiling()) == 300.0
    with pytest.raises(ValueError, match="delivery options must all be more than 0"):
        DeliveryOptions(max_backoff=0.0)


@pytest.mark.asyncio
async def test_a_failure_is_rescheduled_with_backoff(
    outbox: Outbox, store: AuditStore, channel: Channel, clock: FakeClock
) -> None:
    """A retryable failure is audited (not final) and the row waits out its backoff."""
    channel.down = True
    await outbox.enqueue([pending(note())])
    await outbox.pump()
    assert len(channel.attempts) == 1
    (row,) = outbox_rows(store)
    assert row[1:3] == ("pending", 1)
    assert parse_iso(row[3]) == pytest.approx(clock.wall() + 2.0)
    assert row[4] == "webhook oncall: cannot reach it"
    clock.advance(1.0)
    await outbox.pump()
    assert len(channel.attempts) == 1
    clock.advance(1.0)
    await outbox.pump()
    assert len(channel.attempts) == 2
    failed = await events(store, "notification.failed")
    assert [(f["attempt"], f["final"], f["retry_in"]) for f in failed] == [
        (1, False, 2.0),
        (2, False, 4.0),
    ]


@pytest.mark.asyncio
async def test_retry_after_is_honoured(
    outbox: Outbox, store: AuditStore, channel: Channel, clock: FakeClock
) -> None:
    """A receiver's Retry-After wins over a shorter backoff."""
    channel.failures = [NotifyError("throttled", retryable=True, retry_after=120.0)]
    await outbox.enqueue([pending(note())])
    await outbox.pump()
    (row,) = outbox_rows(store)
    assert parse_iso(row[3]) == pytest.approx(clock.wall() + 120.0)
    clock.advance(119.0)
    await outbox.pump()
    assert len(channel.attempts) == 1
    clock.advance(1.0)
    await outbox.pump()
    assert len(channel.delivered) == 1
    (failed,) = await events(store, "notification.failed")
    assert failed["retry_after"] == 120.0


@pytest.mark.asyncio
async def test_a_non_retryable_failure_is_dead_at_once(
    outbox: Outbox, store: AuditStore, channel: Channel, clock: FakeClock
) -> None:
    """A refusal that will never succeed (a 400) is not retried: dead, audited final."""
    channel.failures = [NotifyError("pagerduty oncall: 400 Invalid event", retryable=False)]
    await outbox.enqueue([pending(note())])
    await outbox.pump()
    clock.advance(3600.0)
    await outbox.pump()
    assert len(channel.attempts) == 1
    assert [r[1:3] for r in outbox_rows(store)] == [("dead", 1)]
    (failed,) = await events(store, "notification.failed")
    assert (failed["final"], failed["retryable"]) == (True, False)
    assert failed["error"] == "pagerduty oncall: 400 Invalid event"


@pytest.mark.asyncio
async def test_a_row_older_than_max_age_is_given_up_unsent(
    outbox: Outbox, store: AuditStore, channel: Channel, clock: FakeClock
) -> None:
    """A notification still queued after max_age is marked dead, not sent late."""
    await outbox.enqueue([pending(note())])
    clock.advance(3601.0)
    await outbox.pump()
    assert channel.attempts == []
    assert [r[1] for r in outbox_rows(store)] == ["dead"]
    (failed,) = await events(store, "notification.failed")
    assert (failed["final"], failed["error"]) == (True, "not delivered within 1h; given up")


@pytest.mark.asyncio
async def test_a_retry_past_max_age_is_the_last(store: AuditStore, clock: FakeClock) -> None:
    """A failure whose next retry would fall after max_age ends the row, audited final."""
    channel = Channel()
    channel.down = True
    box = Outbox(store, {"oncall": channel}, clock, DeliveryOptions(max_age=3.0), Ceiling())
    await box.enqueue([pending(note())])
    await box.pump()
    clock.advance(2.0)
    await box.pump()
    assert [r[1:3] for r in outbox_rows(store)] == [("dead", 2)]
    failed = await events(store, "notification.failed")
    assert [f["final"] for f in failed] == [False, True]
    assert failed[1]["error"] == (
        "webhook oncall: cannot reach it; not delivered within 3s, given up"
    )
    await box.stop()


@pytest.mark.asyncio
async def test_a_resolve_waits_for_its_escalation(
    outbox: Outbox, channel: Channel, clock: FakeClock
) -> None:
    """While the escalation is pending on a channel, its resolve is not sent there."""
    channel.down = True
    await outbox.enqueue([pending(note())])
    await outbox.enqueue([pending(note("resolve", reason="healed"))])
    await outbox.pump()
    assert channel.attempts == [(INCIDENT, "escalation")]
    channel.down = False
    clock.advance(2.0)
    await outbox.pump()
    assert [n.kind for n in channel.delivered] == ["escalation", "resolve"]


@pytest.mark.asyncio
async def test_an_unknown_notifier_is_dead(
    outbox: Outbox, store: AuditStore, channel: Channel
) -> None:
    """A channel missing from the config is an audited final failure, never retried."""
    await outbox.enqueue([pending(note(), "pager")])
    await outbox.pump()
    assert [r[1] for r in outbox_rows(store)] == ["dead"]
    (failed,) = await events(store, "notification.failed")
    assert failed["error"] == "no notifier named 'pager' in the agent config"
    assert failed["final"] is True
    assert channel.attempts == []


@pytest.mark.asyncio
async def test_a_hung_send_is_bounded_by_the_send_timeout(
    store: AuditStore, clock: FakeClock
) -> None:
    """A send that never returns fails at send_timeout and is retried later."""
    channel = Channel()
    channel.hang.clear()
    options = DeliveryOptions(send_timeout=0.05)
    box = Outbox(store, {"oncall": channel}, clock, options, Ceiling())
    await box.enqueue([pending(note())])
    await box.pump()
    (failed,) = await events(store, "notification.failed")
    assert failed["error"] == "oncall: no answer within 50ms"
    assert [r[1] for r in outbox_rows(store)] == ["pending"]
    await box.stop()


@pytest.mark.asyncio
async def test_sends_per_channel_are_bounded(outbox: Outbox, channel: Channel) -> None:
    """At most `concurrency` sends are in flight per channel; the rest wait their turn."""
    channel.hang.clear()
    await outbox.enqueue([pending(note(incident=f"i{n}")) for n in range(10)])
    assert await outbox.deliver_due() == 4
    assert await outbox.deliver_due() == 0
    channel.hang.set()
    await outbox.pump()
    assert sorted(n.incident for n in channel.delivered) == sorted(f"i{n}" for n in range(10))


@pytest.mark.asyncio
async def test_a_recovered_channel_sends_its_backlog_at_once(
    outbox: Outbox, store: AuditStore, channel: Channel, clock: FakeClock
) -> None:
    """When a failing channel accepts again, rows waiting out a backoff become due."""
    channel.down = True
    await outbox.enqueue([pending(note(incident=f"old{n}")) for n in range(3)])
    for _ in range(4):  # a backoff of up to 16s by now
        await outbox.pump()
        clock.advance(8.0)
    channel.down = False
    await outbox.enqueue([pending(note(incident="new"))])
    await outbox.pump()
    assert {n.incident for n in channel.delivered} == {"old0", "old1", "old2", "new"}
    assert {r[1] for r in outbox_rows(store)} == {"sent"}


@pytest.mark.asyncio
async def test_the_worker_survives_a_crashing_notifier(store: AuditStore) -> None:
    """A notifier raising something unexpected is a failed attempt; delivery goes on."""
    channel = Channel()
    channel.failures = [RuntimeError("boom")]
    options = DeliveryOptions(base=0.01)
    escalator = Escalator({"oncall": channel}, store, SystemClock(), "node1", delivery=options)
    await escalator.start()
    try:
        await escalator.outbox.enqueue([pending(note())])
        await wait_until(lambda: len(channel.delivered) == 1, "the retry")
    finally:
        await escalator.stop()
    (failed,) = await events(store, "notification.failed")
    assert failed["error"] == "oncall: RuntimeError: boom"
    assert [r[1:3] for r in outbox_rows(store)] == [("sent", 2)]


def escalate(
    escalator: Escalator,
    reason: str,
    *,
    resolve: bool = False,
    dry: bool = False,
    notify: tuple[str, ...] = ("oncall", "pager"),
) -> None:
    escalator.escalate(
        policy="web-down",
        target="web",
        incident=INCIDENT,
        request=Escalate(reason, "web is down", resolve=resolve),
        notify=notify,
        values={"up": False},
        dry_run=dry,
    )


@pytest.mark.asyncio
async def test_escalate_audits_and_queues_one_row_per_channel_and_reason(
    store: AuditStore, clock: FakeClock
) -> None:
    """Every escalation is audited; a repeated one is queued once; dry-run queues nothing."""
    escalator = Escalator({}, store, clock, "node1")
    escalate(escalator, "no_remediation")
    escalate(escalator, "no_remediation")
    escalate(escalator, "remediation_failed")
    escalate(escalator, "remediation_failed", dry=True)
    escalate(escalator, "healed", resolve=True)
    await escalator.flush()
    assert [r[0] for r in outbox_rows(store)] == [
        f"{INCIDENT}:{kind}:{reason}:{channel}"
        for kind, reason in [
            ("escalation", "no_remediation"),
            ("escalation", "remediation_failed"),
            ("resolve", "healed"),
        ]
        for channel in ("oncall", "pager")
    ]
    escalated = await events(store, "incident.escalated")
    assert [e["outcome"] for e in escalated] == ["escalated"] * 3 + ["dry_run"]
    assert escalated[0]["notify"] == ["oncall", "pager"]


@pytest.mark.asyncio
async def test_pending_notifications_survive_a_restart(tmp_path: Path) -> None:
    """Queued while the receiver is down, delivered exactly once by the next agent."""
    path = tmp_path / "audit.db"
    channel = Channel()
    channel.down = True
    options = DeliveryOptions(base=60.0)
    first = AuditStore(path, host="node1")
    await first.start()
    escalator = Escalator(
        {"oncall": channel}, first, SystemClock(), "node1", delivery=options, rng=Ceiling()
    )
    await escalator.start()
    escalate(escalator, "no_remediation", notify=("oncall",))
    escalate(escalator, "healed", resolve=True, notify=("oncall",))
    await wait_until(lambda: len(channel.attempts) == 1, "the first attempt")
    await escalator.stop()
    await first.close()
    assert query(path, "SELECT state, attempts FROM outbox") == [("pending", 1), ("pending", 0)]

    channel.down = False
    second = AuditStore(path, host="node1")
    await second.start()
    again = Escalator({"oncall": channel}, second, SystemClock(), "node1", delivery=options)
    await again.start()
    try:
        await wait_until(lambda: len(channel.delivered) == 2, "both notifications")
        await again.flush()
    finally:
        await again.stop()
        await second.close()
    assert [(n.incident, n.kind) for n in channel.delivered] == [
        (INCIDENT, "escalation"),
        (INCIDENT, "resolve"),
    ]
    assert len(channel.attempts) == 3
    assert query(path, "SELECT state FROM outbox") == [("sent",), ("sent",)]


@pytest.mark.asyncio
async def test_links_survive_the_outbox(
    outbox: Outbox, store: AuditStore, channel: Channel
) -> None:
    """Approve and deny links come out of the outbox as the (label, url) pairs that went in."""
    links = (("Approve", "https://medic.example/a"), ("Deny", "https://medic.example/d"))
    sent = replace(note(), links=links)
    await outbox.enqueue([pending(sent)])
    await outbox.pump()
    assert channel.delivered == [sent]
    assert channel.delivered[0].to_dict()["links"] == [
        {"label": "Approve", "url": "https://medic.example/a"},
        {"label": "Deny", "url": "https://medic.example/d"},
    ]


def test_a_row_with_a_malformed_link_is_unreadable() -> None:
    """A link that is not a label and a URL makes the row unreadable, not a garbled link."""
    with pytest.raises(ValueError, match="not a link"):
        decode(json.dumps({**note().to_dict(), "links": [{"label": "x"}]}))
