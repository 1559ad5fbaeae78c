"""The notification outbox: a notification is a row in SQLite until it is delivered.

The escalator commits one row per notification per channel (through the audit store's
one writer); the worker here sends due rows and marks each ``sent``, reschedules it
(exponential backoff, full jitter, a receiver's ``Retry-After`` honoured) or marks it
``dead`` (refused for good, no such channel, older than ``max_age``), auditing every
attempt. Rows outlive the agent: at start every pending row is tried at once.

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

from medic.audit.events import AuditEvent, Kind
from medic.audit.query import connect_readonly
from medic.audit.store import AuditStore
from medic.clock import Clock, iso, parse_iso
from medic.errors import MedicError, NotifyError
from medic.notify.base import Notification, Notifier
from medic.policy.durations import format_duration
from medic.redact import redact_text

log = structlog.get_logger("medic.outbox")

T = TypeVar("T")

# The worker looks at the table at least this often, whatever it expects (clock jumps).
IDLE_POLL = 30.0
# pump() stops after this many rounds even if rows keep becoming due (tests only).
PUMP_ROUNDS = 100


@dataclass(frozen=True)
class DeliveryOptions:
    """How notifications are retried.

    ``base`` and ``max_backoff`` bound the backoff (the n-th retry waits a random time
    up to ``min(max_backoff, base * 2**(n-1))``); ``max_age`` is how long after it was
    queued a notification is given up; ``concurrency`` bounds the sends in flight per
    channel; ``send_timeout`` bounds one send, whatever the notifier's own timeout.
    """

    base: float = 2.0
    max_backoff: float = 300.0
    max_age: float = 86400.0
    concurrency: int = 4
    send_timeout: float = 60.0

    def __post_init__(self) -> None:
        values = (self.base, self.max_backoff, self.max_age, self.concurrency, self.send_timeout)
        if min(values) <= 0:  # a zero backoff would retry a dead receiver in a hot loop
            raise ValueError(f"delivery options must all be more than 0: {self}")


def backoff(attempt: int, options: DeliveryOptions, rng: random.Random) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): full jitter."""
    ceiling = min(options.max_backoff, options.base * 2.0 ** min(max(attempt, 1) - 1, 60))
    return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class Pending:
    """A notification to queue for one channel, under its idempotency key."""

    key: str
    notifier: str
    notification: Notification


@dataclass(frozen=True)
class Row:
    """A pending outbox row, as the worker reads it."""

    id: int
    key: str
    notifier: str
    payload: str
    created: str
    attempts: int


@dataclass(frozen=True)
class Outcome:
    """What one send came to: no error, or the error and whether to try again."""

    error: str | None = None
    retryable: bool = True
    retry_after: float | None = None


def encode(notification: Notification) -> str:
    return json.dumps(notification.to_dict(), sort_keys=True, ensure_ascii=False, default=str)


def decode(payload: str) -> Notification:
    """The notification a row holds; ValueError or TypeError if it is not one."""
    data = json.loads(payload)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    data["history"] = tuple(data.get("history") or ())
    return Notification(**data)


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
_CHANNEL_DUE = _NOW_DUE + " AND notifier = ?"
_SENT = "UPDATE outbox SET state = 'sent', sent = ?, attempts = ?, last_error = NULL WHERE id = ?"
_RETRY = "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?"
_DEAD = "UPDATE outbox SET state = 'dead', attempts = ?, last_error = ? WHERE id = ?"


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
        self._wake = asyncio.Event()
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._busy: Counter[str] = Counter()
        self._failing: set[str] = set()
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
        log.info("outbox_started", pending=pending[0])
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
                log.exception("outbox_worker_failed")
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
            task = asyncio.get_running_loop().create_task(self._attempt(row))
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
            log.error("outbox_attempt_failed", key=row.key, error=repr(exc))

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

    # -- one attempt -----------------------------------------------------------------

    async def _attempt(self, row: Row) -> None:
        attempt = row.attempts + 1
        base: dict[str, Any] = {"notifier": row.notifier, "key": row.key}
        try:
            n = decode(row.payload)
        except (ValueError, TypeError) as exc:
            await self._dead(row, None, attempt, {**base, "error": f"unreadable row: {exc}"})
            return
        base |= {"notification": n.kind, "reason": n.reason}
        channel = self.channels.get(row.notifier)
        if channel is None:
            error = f"no notifier named {row.notifier!r} in the agent config"
            await self._dead(row, n, attempt, {**base, "error": error})
            return
        age = self.clock.wall() - parse_iso(row.created)
        if age > self.options.max_age:
            error = f"not delivered within {format_duration(self.options.max_age)}; given up"
            await self._dead(row, n, row.attempts, {**base, "error": error})
            return
        outcome = await self._send(channel, n)
        if outcome.error is None:
            await self._sent(row, n, attempt, base)
        elif not outcome.retryable:
            await self._dead(row, n, attempt, {**base, "error": outcome.error, "retryable": False})
        else:
            await self._retry(row, n, attempt, base, outcome)

    async def _send(self, channel: Notifier, n: Notification) -> Outcome:
        try:
            async with asyncio.timeout(self.options.send_timeout):
                await channel.send(n)
        except NotifyError as exc:
            after = exc.fields.get("retry_after")
            return Outcome(
                str(exc),
                exc.fields.get("retryable") is not False,
                float(after) if isinstance(after, int | float) and after > 0 else None,
            )
        except TimeoutError:
            limit = format_duration(self.options.send_timeout)
            return Outcome(f"{channel.name}: no answer within {limit}")
        except Exception as exc:  # a notifier's bug is a failed attempt, not a dead worker
            log.exception("notifier_crashed", notifier=channel.name)
            return Outcome(f"{channel.name}: {type(exc).__name__}: {exc}")
        return Outcome()

    async def _sent(self, row: Row, n: Notification, attempt: int, base: dict[str, Any]) -> None:
        self._emit(Kind.NOTIFY_SENT, n, "sent", {**base, "attempt": attempt})
        recovered = row.notifier in self._failing
        self._failing.discard(row.notifier)
        now = iso(self.clock.wall())

        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(_SENT, (now, attempt, row.id))
            if recovered:  # the channel is back: its backlog need not wait out the backoff
                conn.execute(_CHANNEL_DUE, (now, now, row.notifier))

        await self.audit.write(mark)

    async def _retry(
        self, row: Row, n: Notification, attempt: int, base: dict[str, Any], outcome: Outcome
    ) -> None:
        self._failing.add(row.notifier)
        now = self.clock.wall()
        delay = backoff(attempt, self.options, self.rng)
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        details = {**base, "attempt": attempt, "error": outcome.error}
        if now + delay - parse_iso(row.created) > self.options.max_age:
            limit = format_duration(self.options.max_age)
            details["error"] = f"{outcome.error}; not delivered within {limit}, given up"
            await self._dead(row, n, attempt, details)
            return
        when = iso(now + delay)
        details |= {"final": False, "retry_in": round(delay, 3), "next_attempt": when}
        if outcome.retry_after is not None:
            details["retry_after"] = outcome.retry_after
        self._emit(Kind.NOTIFY_FAILED, n, "failed", details)
        error = redact_text(outcome.error or "")
        await self.audit.write(lambda conn: conn.execute(_RETRY, (attempt, when, error, row.id)))

    async def _dead(
        self, row: Row, n: Notification | None, attempt: int, details: dict[str, Any]
    ) -> None:
        self._emit(Kind.NOTIFY_FAILED, n, "failed", {**details, "attempt": attempt, "final": True})
        error = redact_text(str(details.get("error", "")))
        await self.audit.write(lambda conn: conn.execute(_DEAD, (attempt, error, row.id)))

    def _emit(
        self, kind: Kind, n: Notification | None, outcome: str, details: Mapping[str, Any]
    ) -> None:
        self.audit.emit(
            AuditEvent(
                kind,
                self.clock.wall(),
                policy=n.policy if n else None,
                target=n.target if n else None,
                incident=(n.incident or None) if n else None,
                outcome=outcome,
                details=details,
            )
        )
