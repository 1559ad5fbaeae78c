"""Escalation: telling humans, through the notifiers a policy names.

Every escalation is audited (``incident.escalated``) whether or not a channel is
configured. Its notifications (one per channel) are not sent from here: each is
committed to the outbox (:mod:`medic.notify.outbox`) under an idempotency key, and the
outbox's worker delivers them, retrying with backoff across restarts and auditing
every attempt. Nothing here blocks the scheduler.
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
from medic.engine.core.target_state import Escalate
from medic.notify.base import Notification, Notifier, notifiers
from medic.notify.delivery import DeliveryOptions
from medic.notify.outbox import Outbox, Pending

log = structlog.get_logger("medic.escalation")


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
            log.error("notify.unknown_type", notifier=name, type=cfg.type, valid=notifiers.names())
            continue
        options = dict(cfg.options)
        if public_url and "link_base" in cls.schema.get("properties", {}):
            options.setdefault("link_base", public_url)
        out[name] = cls(name, options)
    return out


def delivery_key(notification: Notification, notifier: str) -> str:
    """The outbox's idempotency key: one notification per incident, kind, reason and
    channel, ever. A repeated decision (the same incident escalated again for the same
    reason after a restart) maps to the same key and is not queued twice."""
    n = notification
    incident = n.incident or f"{n.policy}/{n.target}@{n.time}"
    return f"{incident}:{n.kind}:{n.reason}:{notifier}"


class Escalator:
    """Audits escalations and queues their notifications in the durable outbox.

    The agent calls :meth:`start` once the audit store is open and :meth:`stop`
    before it closes; :meth:`escalate` may be called any time in between.
    """

    def __init__(
        self,
        channels: Mapping[str, Notifier],
        audit: AuditStore,
        clock: Clock,
        host: str,
        *,
        delivery: DeliveryOptions | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.channels = channels
        self.audit = audit
        self.clock = clock
        self.host = host
        self.outbox = Outbox(audit, channels, clock, delivery, rng)
        self._enqueues: set[asyncio.Task[None]] = set()

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
        details: Mapping[str, Any] | None = None,
        severity: str | None = None,
    ) -> None:
        """Audit the escalation and queue one notification per channel.

        ``details`` are added to the audit event (an on-call level and its repeat).
        """
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
            links=tuple(request.links),
            severity=severity,
        )
        if not request.resolve:
            self.audit.emit(
                AuditEvent(
                    Kind.ESCALATED,
                    now,
                    policy=policy,
                    target=target,
                    incident=incident,
                    # With no channel named, Medic wanted a human and could tell nobody.
                    outcome="dry_run" if dry_run else ("escalated" if notify else "no_channel"),
                    values=values,
                    details={
                        "reason": request.reason,
                        "summary": request.summary,
                        "notify": list(notify),
                        **(details or {}),
                    },
                )
            )
        if dry_run or not notify:
            return
        self._deliver(notification, notify)

    def _deliver(self, notification: Notification, notify: Sequence[str]) -> None:
        """Queue one notification per channel in the durable outbox."""
        items = [
            Pending(delivery_key(notification, name), name, notification)
            for name in dict.fromkeys(notify)
        ]
        # Tasks run in the order they are created, so an escalation's rows are always
        # queued before its resolve's.
        task = asyncio.get_running_loop().create_task(self._enqueue(items))
        self._enqueues.add(task)
        task.add_done_callback(self._enqueues.discard)

    async def _enqueue(self, items: list[Pending]) -> None:
        keys = [p.key for p in items]
        try:
            added = await self.outbox.enqueue(items)
        except Exception as exc:  # a closed or failing store: say so loudly, never crash
            log.error("notify.not_queued", keys=keys, error=str(exc))
            return
        if added < len(items):
            log.info("notify.already_queued", keys=keys, new=added)

    async def start(self) -> None:
        """Start delivering: every notification still pending from before goes out now."""
        await self.outbox.start()

    async def stop(self, grace: float = 5.0) -> None:
        """Commit the notifications being queued, give sends in flight ``grace`` seconds,
        then stop; whatever is not delivered stays pending for the next start."""
        if self._enqueues:
            await asyncio.wait(set(self._enqueues), timeout=grace)
        await self.outbox.stop(grace)

    async def flush(self) -> None:
        """Return once every escalation made so far is committed to the outbox."""
        if self._enqueues:
            await asyncio.wait(set(self._enqueues))
