"""Outbox benchmark: a webhook receiver down for a while under a stream of notifications.

    .venv/bin/python bench/bench_outbox.py [--incidents 100] [--outage 20] [--max-backoff 300]

A real audit database, the real outbox worker with its default retry policy and the
real webhook notifier posting to an aiohttp receiver on 127.0.0.1. The receiver's port
is closed for ``--outage`` seconds while ``--incidents`` incidents are escalated and
resolved at an even pace; then it comes back and nothing new is sent. Prints what was
produced, delivered, duplicated, the attempts the dead receiver absorbed, and how long
after its return the last notification arrived (the product target: a receiver down
for 10 minutes gets every notification, once, after it comes back).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

from aiohttp import web

from medic.audit.store import AuditStore
from medic.clock import SystemClock, iso
from medic.engine.escalation import delivery_key
from medic.notify.base import Notification
from medic.notify.delivery import DeliveryOptions
from medic.notify.outbox import Outbox, Pending
from medic.notify.webhook import WebhookNotifier


class Receiver:
    """Counts deliveries per X-Medic-Delivery; ``up()``/``down()`` open and close the port."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.last = 0.0
        self.port = 0
        self.expected = 0
        self.all_in = asyncio.Event()
        self._runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        await request.read()
        self.counts[request.headers["X-Medic-Delivery"]] += 1
        self.last = time.monotonic()
        if len(self.counts) >= self.expected:
            self.all_in.set()
        return web.Response(status=204)

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def notification(incident: str, kind: str) -> Notification:
    return Notification(
        kind=kind,  # type: ignore[arg-type]  # "escalation" or "resolve"
        incident=incident,
        policy="bench",
        target=incident,
        host="bench",
        reason="no_remediation" if kind == "escalation" else "cleared",
        summary="bench",
        time=iso(time.time()),
    )


async def run(incidents: int, outage: float, max_backoff: float, root: Path) -> None:
    receiver = Receiver()
    await receiver.up()
    hook = WebhookNotifier("oncall", {"url": f"http://127.0.0.1:{receiver.port}/hook"})
    store = AuditStore(root / "audit.db", host="bench")
    await store.start()
    options = DeliveryOptions(max_backoff=max_backoff)
    outbox = Outbox(store, {"oncall": hook}, SystemClock(), options)
    await outbox.start()
    await receiver.down()
    down_at = time.monotonic()
    produced = 0
    for n in range(incidents):
        for kind in ("escalation", "resolve"):
            item = notification(f"inc-{n:05d}", kind)
            await outbox.enqueue([Pending(delivery_key(item, "oncall"), "oncall", item)])
            produced += 1
        await asyncio.sleep(max(0.0, down_at + outage * (n + 1) / incidents - time.monotonic()))
    receiver.expected = produced
    await receiver.up()
    up_at = time.monotonic()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max_backoff + 60.0):  # one full backoff, and then some
            await receiver.all_in.wait()
    await outbox.stop()
    await store.flush()
    failed = await asyncio.to_thread(_count_failed, root / "audit.db")
    await store.close()
    await receiver.down()
    duplicates = sum(c - 1 for c in receiver.counts.values())
    print(f"notifications produced      {produced}")
    print(f"delivered                   {len(receiver.counts)}")
    print(f"duplicates                  {duplicates}")
    print(f"receiver down               {up_at - down_at:.1f} s")
    print(f"failed attempts meanwhile   {failed}")
    print(f"back -> last delivery       {receiver.last - up_at:.2f} s")


def _count_failed(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        sql = "SELECT COUNT(*) FROM events WHERE kind = 'notification.failed'"
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds the receiver is down")
    parser.add_argument("--max-backoff", type=float, default=300.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.incidents, args.outage, args.max_backoff, Path(tmp)))


if __name__ == "__main__":
    main()
