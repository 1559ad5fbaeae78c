"""Retention benchmark: the longest writer stall while a million events are pruned.

    .venv/bin/python bench/bench_retention.py [--db-events 1000000]

Builds a database of ``--db-events`` events (as bench_audit.py does), starts the real
store, and prunes every event (max_age passed for all of them) while a writer task
commits one durable event every 5 ms, as the engine does for an action's intent.
Prints how long the prune took, the longest and the p99 commit latency during it, and
whether ``verify`` still holds afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench_audit import DAY, build_database
from medic.audit.events import AuditEvent, Kind
from medic.audit.key import load_key
from medic.audit.options import AuditOptions
from medic.audit.retention import Retention
from medic.audit.retention_options import RetentionOptions
from medic.audit.store import AuditStore
from medic.audit.verify import verify


async def prune_under_load(path: Path, now: float) -> tuple[float, list[float], int]:
    store = AuditStore(path, host="bench", options=AuditOptions())
    await store.start()
    latencies: list[float] = []
    done = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not done.is_set():
            started = time.perf_counter()
            await store.emit_durable(
                AuditEvent(Kind.PROBE_FAILED, now + 120 * DAY, policy="w", details={"i": i})
            )
            latencies.append(time.perf_counter() - started)
            i += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.5)  # a baseline before the prune starts
    latencies.clear()
    retention = Retention(store, RetentionOptions(max_age=90 * DAY), lambda: now + 120 * DAY)
    started = time.perf_counter()
    pruned = await retention.prune()
    took = time.perf_counter() - started
    done.set()
    await task
    await store.close()
    return took, latencies, pruned["events"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-events", type=int, default=1_000_000)
    args = parser.parse_args()
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.db"
        built = build_database(path, args.db_events, now)
        print(f"built {args.db_events:,} events in {built:.1f}s")
        took, lat, pruned = asyncio.run(prune_under_load(path, now))
        conn = sqlite3.connect(path)
        verdict = verify(conn, load_key(None, path, create=False))
        conn.close()
    lat_ms = sorted(x * 1000 for x in lat)
    p99 = lat_ms[int(len(lat_ms) * 0.99) - 1] if lat_ms else 0.0
    print(f"pruned {pruned:,} events in {took:.1f}s ({pruned / took:,.0f}/s)")
    median = statistics.median(lat_ms)
    print(
        f"durable writes during the prune: {len(lat_ms)}, median {median:.1f} ms,"
        f" p99 {p99:.1f} ms, longest {lat_ms[-1]:.1f} ms"
    )
    print(f"verify afterwards: ok={verdict.ok} checked={verdict.checked} pruned={verdict.pruned}")


if __name__ == "__main__":
    main()
