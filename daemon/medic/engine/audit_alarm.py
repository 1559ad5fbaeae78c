"""No audit, no action: the alarm raised while the audit log cannot be written.

Medic acts only after it has committed its intent to the audit log. When a write
fails (a full disk, a read-only remount, a broken file) the writer thread reports it
here and the alarm goes up: the gate refuses every action (reason
``audit_unwritable``), ``/health`` answers 503 with the reason, the service manager's
status line says it, and one escalation goes straight to every configured notifier.
That page cannot use the outbox, which lives in the same database: it is sent
directly, once per outage, and a resolve follows when the outage ends.

While the alarm is up it tries every ``retry`` seconds to commit one event,
``audit.recovered``, which records when the outage began, its error and how long it
lasted. The first one that commits ends the outage: Medic heals by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.clock import Clock, iso
from medic.deadline import within
from medic.errors import MedicError
from medic.notify.base import Notification, Notifier

log = structlog.get_logger("medic.audit_alarm")

REASON = "audit_unwritable"


@dataclass(frozen=True)
class Outage:
    """The audit log has not been writable since ``since`` (wall clock), because of ``error``."""

    since: float
    error: str
    path: str

    @property
    def reason(self) -> str:
        return f"the audit log {self.path} cannot be written: {self.error}"

    def as_dict(self) -> dict[str, Any]:
        return {"check": "audit", "reason": self.reason, "since": iso(self.since)}


class AuditAlarm:
    """Up from the first failed audit write until an ``audit.recovered`` event commits."""

    def __init__(
        self,
        audit: AuditStore,
        channels: Mapping[str, Notifier],
        clock: Clock,
        host: str,
        *,
        retry: float = 1.0,
        send_timeout: float = 10.0,
    ) -> None:
        self.audit = audit
        self.channels = channels
        self.clock = clock
        self.host = host
        self.retry = retry
        self.send_timeout = send_timeout
        self.outage: Outage | None = None
        # Called on the loop with the new outage (None: the audit is writable again).
        self.on_change: list[Callable[[Outage | None], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        audit.on_write_failure(self.failed)

    @property
    def writable(self) -> bool:
        return self.outage is None

    def failed(self, error: str) -> None:
        """A write failed: raise the alarm (once per outage). Call on the loop."""
        if self.outage is not None:
            return
        outage = Outage(self.clock.wall(), error, str(self.audit.path))
        self.outage = outage
        log.critical("audit.unwritable", reason=outage.reason, acting="stopped until writable")
        self._changed()
        self._spawn(self._page(outage, resolve=False))
        self._spawn(self._recover(outage))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- inside an outage ----------------------------------------------------------------

    async def _recover(self, outage: Outage) -> None:
        """Try to commit ``audit.recovered`` every ``retry`` seconds until one does."""
        while True:
            await asyncio.sleep(self.retry)
            now = self.clock.wall()
            event = AuditEvent(
                Kind.AUDIT_RECOVERED,
                now,
                outcome="recovered",
                details={
                    "unwritable_since": iso(outage.since),
                    "error": outage.error,
                    "seconds": round(now - outage.since, 3),
                    "path": outage.path,
                },
            )
            try:
                await self.audit.emit_durable(event)
            except MedicError:
                continue
            break
        self.outage = None
        log.warning("audit.writable_again", seconds=round(now - outage.since, 3))
        self._changed()
        await self._page(outage, resolve=True)

    async def _page(self, outage: Outage, *, resolve: bool) -> None:
        """Send to every configured channel directly: the outbox needs the disk."""
        if resolve:
            summary = "Medic can write its audit log again and has resumed acting."
        else:
            summary = (
                f"Medic on {self.host} cannot write its audit log ({outage.error}) and has "
                "stopped acting: no remediation runs until it can. Free space or fix "
                f"{outage.path}; Medic resumes by itself."
            )
        notification = Notification(
            kind="resolve" if resolve else "escalation",
            incident=f"audit-unwritable-{int(outage.since)}",
            policy="medic",
            target=outage.path,
            host=self.host,
            reason=REASON,
            summary=summary,
            time=iso(self.clock.wall()),
            values={"error": outage.error, "since": iso(outage.since)},
        )
        for name, channel in self.channels.items():
            try:
                await within(channel.send(notification), self.send_timeout)
            except Exception as exc:  # no outbox to retry from: say so and go on
                log.error("audit.alarm_not_sent", notifier=name, error=str(exc))
            else:
                log.warning("audit.alarm_sent", notifier=name, kind=notification.kind)

    def _changed(self) -> None:
        for callback in self.on_change:
            try:
                callback(self.outage)
            except Exception:  # a listener's bug must not silence the alarm
                log.exception("audit.alarm_listener_failed")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to schedule on
            task = asyncio.get_running_loop().create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        coro.close()
