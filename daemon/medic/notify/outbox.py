"""The notification outbox: a notification is a row in SQLite until it is delivered.

The escalator commits one row per notification per channel (through the audit store's
one writer); the worker here picks the due rows, within each channel's concurrency,
and hands each to :mod:`medic.notify.delivery`, which sends it and marks it ``sent``,
reschedules it (exponential backoff, full jitter, a receiver's ``Retry-After``
honoured) or marks it ``dead`` (refused for good, no such channel, older than
``max_age``), auditing every attempt. Rows outlive the agent: at start every pending
row is tried at once.

Delivery is at-least-once: a send in flight when the agent is killed is repeated after
the restart. Each row's idempotency key makes a second enqueue a no-op, and notifiers
send a stable delivery id (``X-Medic-Delivery``, ``dedup_key``, ``Message-ID``) for
receivers to drop the repeat. A resolve waits while its incident's escalation on the
same channel is pending. When a failing channel accepts again, its backlog is due at
once rather than after each row's backoff. See docs/escalation.md, "Delivery".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import structlog

from medic.audit.query import connect_readonly
from medic.audit.store import AuditStore
from medic.clock import Clock, iso, parse_iso
from medic.errors import MedicError
from medic.notify.base import Notification, Notifier
from medic.notify.delivery import Delivery, DeliveryOptions, Row

log = structlog.get_logger("medic.outbox")

T = TypeVar("T")

# The worker looks at the table at least this often, whatever it expects (clock jumps).
IDLE_POLL = 30.0
# pump() stops after this many rounds even if rows keep becoming due (tests only).
PUMP_ROUNDS = 100


@dataclass(frozen=True)
class Pending:
    """A notification to queue for one channel, under its idempotency key."""

    key: str
    notifier: str
    notification: Notification


def encode(notification: Notification) -> str:
    """A row's payload (read back by :func:`medic.notify.delivery.decode`)."""
    return json.dumps(notification.to_dict(), sort_keys=True, ensure_ascii=False, default=str)


def _insert_params(p: Pending, now: str) -> tuple[Any, ...]:
    n = p.notification
    return (p.key, p.notifier, n.incident or None, n.kind, encode(n), now, now)


_INSERT = (
    "INSERT OR IGNORE INTO outbox (key, notifier, incident, kind, payload, created,"
    " next_attempt, attempts, state) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 'pending')"
)
# Due rows, at most ``?`` per channel (enough to fill its free slots whatever is in
# flight), leaving out resolves whose escalation on the same channel is still pending.
_DUE = """
SELECT id, key, notifier, payload, created, attempts FROM (
  SELECT o.*, ROW_NUMBER() OVER (PARTITION BY notifier ORDER BY next_attempt, id) AS rank
  FROM outbox AS o
  WHERE state = 'pending' AND next_attempt <= ?
    AND NOT (kind = 'resolve' AND EXISTS (
      SELECT 1 FROM outbox AS e
      WHERE e.state = 'pending' AND e.kind = 'escalation'
        AND e.notifier = o.notifier AND e.incident IS o.incident))
) WHERE rank <= ? ORDER BY next_attempt, id
"""
_NEXT = "SELECT MIN(next_attempt) FROM outbox WHERE state = 'pending' AND next_attempt > ?"
_NOW_DUE = "UPDATE outbox SET next_attempt = ? WHERE state = 'pending' AND next_attempt > ?"


class Outbox:
    """Queues notifications durably and delivers them from a background worker."""

    def __init__(
        self,
        audit: AuditStore,
        channels: Mapping[str, Notifier],
        clock: Clock,
        options: DeliveryOptions | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.audit = audit
        self.channels = channels
        self.clock = clock
        self.options = options or DeliveryOptions()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._delivery = Delivery(audit, channels, clock, self.options, self.rng)
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._busy: Counter[str] = Counter()
        self._settled = 0  # attempts ended so far
        self._worker: asyncio.Task[None] | None = None
        self._rconn: sqlite3.Connection | None = None
        self._rlock = threading.Lock()
        self._closed = False

    # -- queueing and lifecycle ------------------------------------------------------

    async def enqueue(self, items: Sequence[Pending]) -> int:
        """Commit a row per item (a key already queued is left alone); returns how many
        rows are new. The rows are committed when this returns."""
        now = iso(self.clock.wall())
        params = [_insert_params(p, now) for p in items]
        added = await self.audit.write(lambda conn: conn.executemany(_INSERT, params).rowcount)
        self._wake.set()
        return int(added)

    async def start(self) -> None:
        """Make every pending row due now and start the worker."""
        if self._worker is not None:
            return
        self._closed = False
        now = iso(self.clock.wall())
        await self.audit.write(lambda conn: conn.execute(_NOW_DUE, (now, now)).rowcount)
        pending = await self._read(
            lambda c: c.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()
        )
        log.info("outbox.started", pending=pending[0])
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the worker; sends in flight get ``grace`` seconds, then stay pending."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if tasks := list(self._inflight.values()):
            _, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        with self._rlock:
            self._closed = True
            if self._rconn is not None:
                self._rconn.close()
                self._rconn = None

    async def pump(self) -> None:
        """Send every row due now and wait for the outcomes (for tests and benchmarks)."""
        for _ in range(PUMP_ROUNDS):
            if not await self.deliver_due() and not self._inflight:
                return
            await asyncio.gather(*self._inflight.values(), return_exceptions=True)

    # -- the worker ------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
                delay = await self._until_next()
            except Exception:  # a bad read must not end delivery; try again shortly
                log.exception("outbox.worker_failed")
                delay = 1.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def deliver_due(self) -> int:
        """Start a send for each due row, within each channel's concurrency."""
        limit = 2 * self.options.concurrency
        while True:
            settled = self._settled
            rows = await self._read(
                lambda c: [Row(*r) for r in c.execute(_DUE, (iso(self.clock.wall()), limit))]
            )
            if settled == self._settled:
                break  # else an attempt ended during the read: the rows may be stale
        started = 0
        for row in rows:
            if row.id in self._inflight or self._busy[row.notifier] >= self.options.concurrency:
                continue
            self._busy[row.notifier] += 1
            task = asyncio.get_running_loop().create_task(self._delivery.attempt(row))
            self._inflight[row.id] = task
            task.add_done_callback(partial(self._finished, row))
            started += 1
        return started

    def _finished(self, row: Row, task: asyncio.Task[None]) -> None:
        self._inflight.pop(row.id, None)
        self._settled += 1
        self._busy[row.notifier] -= 1
        self._wake.set()
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("outbox.attempt_failed", key=row.key, error=repr(exc))

    async def _until_next(self) -> float:
        now = self.clock.wall()
        found = await self._read(lambda c: c.execute(_NEXT, (iso(now),)).fetchone()[0])
        if found is None:
            return IDLE_POLL
        return min(IDLE_POLL, max(0.0, parse_iso(found) - now))

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self._rlock:
                if self._closed:
                    raise MedicError("the outbox is stopped")
                if self._rconn is None:
                    self._rconn = connect_readonly(self.audit.path)
                return fn(self._rconn)

        return await asyncio.to_thread(run)
