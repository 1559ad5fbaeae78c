"""Past incidents written into an agent's audit database before it starts, through the
real AuditStore (the one writer, with its hash chain and incidents upkeep): enough of
them to page past 200, with measured values to chart, some escalated and paged."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore

POLICY = "web-memory"
COUNT = 260
HOUR = 3600.0


def _story(n: int, opened: float) -> list[AuditEvent]:
    """Incident ``n``: healed after one restart, or (every 7th) escalated and paged, healed
    on the second try; the memory readings climb, hold, then fall."""
    incident = f"hist-{n:04d}"
    target = f"web-{n % 5}"
    escalated = n % 7 == 0

    def ev(kind: Kind, dt: float, **kw: object) -> AuditEvent:
        return AuditEvent(kind, opened + dt, POLICY, target, incident, **kw)  # type: ignore[arg-type]

    def mem(value: float) -> dict[str, object]:
        return {"memory_percent": value, "rss_mb": 2048, "name": target}

    def restart(dt: float, attempt: int) -> list[AuditEvent]:
        action, details = f"{incident}/{attempt}", {"type": "container.restart"}
        started = {**details, "step": 0, "attempt": attempt}
        return [
            ev(Kind.ACTION_STARTED, dt, action=action, details=started),
            ev(Kind.ACTION_SUCCEEDED, dt + 3, action=action, outcome="ok", details=details),
        ]

    def page(dt: float, notification: str, reason: str) -> AuditEvent:
        details = {
            "notifier": "oncall",
            "notification": notification,
            "reason": reason,
            "attempt": 1,
        }
        return ev(Kind.NOTIFY_SENT, dt, outcome="sent", details=details)

    story = [
        ev(Kind.DETECTED, 0, values=mem(91.5), details={"condition": "memory_percent > 90"}),
        ev(Kind.PENDING, 15, values=mem(93.0)),
        ev(Kind.FIRED, 30, values=mem(95.5)),
        *restart(31, attempt=1),
    ]
    if escalated:
        story += [
            ev(Kind.VERIFY_NOT_HEALED, 64, values=mem(94.0)),
            ev(
                Kind.ESCALATED,
                65,
                outcome="escalated",
                values=mem(94.0),
                details={"reason": "not_healed", "notify": ["oncall"]},
            ),
            page(66, "escalate", "not_healed"),
            *restart(95, attempt=2),
            ev(Kind.VERIFY_HEALED, 128, values=mem(41.0)),
            page(129, "resolve", "healed"),
        ]
    else:
        story.append(ev(Kind.VERIFY_HEALED, 64, values=mem(38.5)))
    return story


async def _write(db: Path, host: str) -> None:
    store = AuditStore(db, host=host)
    await store.start()
    now = time.time()
    for n in range(COUNT):
        # Spread over the last 48 hours, the newest a few minutes before the agent starts.
        for event in _story(n, now - 600 - (COUNT - n) * (48 * HOUR / COUNT)):
            store.emit(event)
    await store.flush()
    await store.close()


def write_history(db: Path, host: str) -> None:
    """Write the past incidents into the audit database at ``db`` (created if missing)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    # Playwright's sync API runs an event loop in this thread: write from another one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _write(db, host)).result()
