"""Escalation: telling humans, through the notifiers a policy names.

Every escalation is audited (``incident.escalated``) whether or not a channel is
configured, and every delivery attempt's outcome is audited too. Delivery retries a
few times with backoff in the background; it never blocks the scheduler.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.clock import Clock, iso
from medic.config import NotifierConfig
from medic.engine.state import Escalate
from medic.errors import NotifyError
from medic.notify.base import Notification, Notifier, notifiers

log = structlog.get_logger("medic.escalation")

RETRY_DELAYS = (1.0, 5.0, 15.0)


def build_notifiers(
    configs: Mapping[str, NotifierConfig], public_url: str | None = None
) -> dict[str, Notifier]:
    """Instances for the agent config's named channels; unknown types are skipped loudly.

    Notifier types that put a link to the incident in their message (``link_base``)
    get the API's ``public_url`` unless their own config says otherwise.
    """
    out: dict[str, Notifier] = {}
    for name, cfg in configs.items():
        cls = notifiers.get(cfg.type)
        if cls is None:
            log.error(
                "unknown_notifier_type", notifier=name, type=cfg.type, valid=notifiers.names()
            )
            continue
        options = dict(cfg.options)
        if public_url and "link_base" in cls.schema.get("properties", {}):
            options.setdefault("link_base", public_url)
        out[name] = cls(name, options)
    return out


class Escalator:
    def __init__(
        self,
        channels: Mapping[str, Notifier],
        audit: AuditStore,
        clock: Clock,
        host: str,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        self.channels = channels
        self.audit = audit
        self.clock = clock
        self.host = host
        self.retry_delays = retry_delays
        self._tasks: set[asyncio.Task[None]] = set()

    def escalate(
        self,
        *,
        policy: str,
        target: str,
        incident: str | None,
        request: Escalate,
        notify: Sequence[str],
        values: Mapping[str, Any],
        history: Sequence[Mapping[str, Any]] = (),
        dry_run: bool = False,
    ) -> None:
        now = self.clock.wall()
        notification = Notification(
            kind="resolve" if request.resolve else "escalation",
            incident=incident or "",
            policy=policy,
            target=target,
            host=self.host,
            reason=request.reason,
            summary=request.summary,
            time=iso(now),
            values=dict(values),
            history=tuple(dict(h) for h in history),
            dry_run=dry_run,
        )
        if not request.resolve:
            self.audit.emit(
                AuditEvent(
                    Kind.ESCALATED,
                    now,
                    policy=policy,
                    target=target,
                    incident=incident,
                    outcome="dry_run" if dry_run else "escalated",
                    values=values,
                    details={
                        "reason": request.reason,
                        "summary": request.summary,
                        "notify": list(notify),
                    },
                )
            )
        if dry_run:
            return
        for name in notify:
            task = asyncio.get_running_loop().create_task(self._deliver(name, notification))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, name: str, notification: Notification) -> None:
        channel = self.channels.get(name)
        base = {
            "notifier": name,
            "notification": notification.kind,
            "reason": notification.reason,
        }
        if channel is None:
            self._record(Kind.NOTIFY_FAILED, notification, {**base, "error": "no such notifier"})
            return
        for attempt in range(len(self.retry_delays) + 1):
            try:
                await channel.send(notification)
            except (NotifyError, OSError, TimeoutError) as exc:
                last = attempt == len(self.retry_delays)
                details = {**base, "attempt": attempt + 1, "error": str(exc), "final": last}
                self._record(Kind.NOTIFY_FAILED, notification, details)
                if last:
                    return
                delay = self.retry_delays[attempt]
                await asyncio.sleep(delay + random.uniform(0, delay / 4))  # noqa: S311 - jitter, not crypto
            else:
                self._record(Kind.NOTIFY_SENT, notification, {**base, "attempt": attempt + 1})
                return

    def _record(self, kind: Kind, n: Notification, details: Mapping[str, Any]) -> None:
        self.audit.emit(
            AuditEvent(
                kind,
                self.clock.wall(),
                policy=n.policy,
                target=n.target,
                incident=n.incident or None,
                outcome="sent" if kind == Kind.NOTIFY_SENT else "failed",
                details=details,
            )
        )

    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a bound, not a deadline
        """Give in-flight deliveries a moment on shutdown."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=timeout)
