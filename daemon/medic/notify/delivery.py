"""One delivery attempt of an outbox row, and what its outcome does to the row.

:meth:`Delivery.attempt` decodes the row, sends it through its channel within
``send_timeout``, audits the attempt and marks the row ``sent``, schedules a retry
(exponential backoff with full jitter, a receiver's ``Retry-After`` honoured) or marks
it ``dead`` (refused for good, no such channel, older than ``max_age``). When a
failing channel accepts again, its backlog is made due at once. The queue and the
worker that calls this are :mod:`medic.notify.outbox`.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.clock import Clock, iso, parse_iso
from medic.durations import format_duration
from medic.errors import NotifyError
from medic.notify.base import Notification, Notifier
from medic.redact import redact_text

log = structlog.get_logger("medic.outbox")

_CHANNEL_DUE = (
    "UPDATE outbox SET next_attempt = ? WHERE state = 'pending' AND next_attempt > ?"
    " AND notifier = ?"
)
_SENT = "UPDATE outbox SET state = 'sent', sent = ?, attempts = ?, last_error = NULL WHERE id = ?"
_RETRY = "UPDATE outbox SET attempts = ?, next_attempt = ?, last_error = ? WHERE id = ?"
_DEAD = "UPDATE outbox SET state = 'dead', attempts = ?, last_error = ? WHERE id = ?"


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


def decode(payload: str) -> Notification:
    """The notification a row holds; ValueError or TypeError if it is not one."""
    data = json.loads(payload)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return Notification.from_dict(data)


class Delivery:
    """Sends outbox rows through their channels; remembers which channels are failing."""

    def __init__(
        self,
        audit: AuditStore,
        channels: Mapping[str, Notifier],
        clock: Clock,
        options: DeliveryOptions,
        rng: random.Random,
    ) -> None:
        self.audit = audit
        self.channels = channels
        self.clock = clock
        self.options = options
        self.rng = rng
        self._failing: set[str] = set()

    async def attempt(self, row: Row) -> None:
        """Send one row's notification and record how it went (sent, retry or dead)."""
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
            log.exception("notify.crashed", notifier=channel.name)
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
