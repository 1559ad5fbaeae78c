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

    story = [
        ev(Kind.DETECTED, 0, values=mem(91.5), details={"condition": "memory_percent > 90"}),
        ev(Kind.PENDING, 15, values=mem(93.0)),
        ev(Kind.FIRED, 30, values=mem(95.5)),
        ev(
            Kind.ACTION_STARTED,
            31,
            action=f"{incident}/1",
            details={"type": "container.restart", "step": 0, "attempt": 1},
        ),
        ev(
            Kind.ACTION_SUCCEEDED,
            34,
            action=f"{incident}/1",
            outcome="ok",
            details={"type": "container.restart"},
        ),
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
            ev(
                Kind.NOTIFY_SENT,
                66,
                outcome="sent",
                details={
                    "notifier": "oncall",
                    "notification": "escalate",
                    "reason": "not_healed",
                    "attempt": 1,
                },
            ),
            ev(
                Kind.ACTION_STARTED,
                95,
                action=f"{incident}/2",
                details={"type": "container.restart", "step": 0, "attempt": 2},
            ),
            ev(
                Kind.ACTION_SUCCEEDED,
                98,
                action=f"{incident}/2",
                outcome="ok",
                details={"type": "container.restart"},
            ),
            ev(Kind.VERIFY_HEALED, 128, values=mem(41.0)),
            ev(
                Kind.NOTIFY_SENT,
                129,
                outcome="sent",
                details={
                    "notifier": "oncall",
                    "notification": "resolve",
                    "reason": "healed",
                    "attempt": 1,
                },
            ),
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
