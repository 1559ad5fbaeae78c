"""Audit log benchmark: write throughput, and 24 h queries over a million events.

    .venv/bin/python bench/bench_audit.py [--events 200000] [--db-events 1000000]

(a) events per second through ``AuditStore.emit`` + ``flush`` (target >= 10,000/s);
(b) a database of ``--db-events`` events spread over 30 days, built directly with
    ``executemany`` in one transaction (same schema, same hash chain), then the
    queries the CLI and API run for the last 24 h, median of 5 runs each
    (target <= 200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medic.audit import query as q
from medic.audit.chain import GENESIS, write_marker
from medic.audit.events import AuditEvent, Kind
from medic.audit.key import load_key
from medic.audit.migrations import migrate
from medic.audit.rows import encode_event, update_incidents
from medic.audit.store import AuditStore
from medic.audit.verify import verify
from medic.clock import iso

DAY = 86400.0
KINDS = [
    Kind.PROBE_FAILED,
    Kind.DETECTED,
    Kind.PENDING,
    Kind.FIRED,
    Kind.ACTION_STARTED,
    Kind.ACTION_SUCCEEDED,
    Kind.VERIFY_HEALED,
    Kind.SUPPRESSED,
    Kind.NOTIFY_SENT,
]
INSERT = (  # the same statement as the store's writer
    'INSERT INTO events (time, host, kind, policy, target, incident, action, outcome, "values",'
    " details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def make_event(rng: random.Random, when: float, seq: int) -> AuditEvent:
    """An event shaped like the engine's: a policy, a target, an incident most times.

    Incidents overlap as they do on a host: a few dozen are open at any moment, each
    collecting its events over a stretch of the log (about 20 events each)."""
    kind = rng.choice(KINDS)
    policy = f"policy-{rng.randrange(200)}"
    target = f"container-{rng.randrange(50)}"
    number = seq // 20 + rng.randrange(40)
    incident = None if kind == Kind.PROBE_FAILED else f"inc-{number:07d}"
    action = f"{incident}/1" if kind.startswith("action.") else None
    return AuditEvent(
        kind=kind,
        time=when,
        policy=policy,
        target=target,
        incident=incident,
        action=action,
        outcome="ok" if kind == Kind.ACTION_SUCCEEDED else None,
        values={"memory_percent": round(rng.uniform(50, 99), 1), "rss_mb": rng.randrange(4096)},
        details={"type": "container.restart", "attempt": 1} if action else {},
    )


async def bench_writes(path: Path, count: int) -> float:
    """Events per second through emit() + flush()."""
    rng = random.Random(1)
    now = time.time()
    batch = [make_event(rng, now + i / 1000, i) for i in range(count)]
    store = AuditStore(path, host="bench")
    await store.start()
    started = time.perf_counter()
    for i, event in enumerate(batch):
        store.emit(event)
        if i % 5000 == 4999:
            await asyncio.sleep(0)  # the engine yields to the loop; so does the bench
    await store.flush()
    elapsed = time.perf_counter() - started
    await store.close()
    return count / elapsed


def build_database(path: Path, count: int, now: float) -> float:
    """``count`` events over the 30 days before ``now``, in one transaction; seconds taken."""
    rng = random.Random(2)
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -262144")  # 256 MB: one big transaction, built once
    migrate(conn)
    key = load_key(None, path, create=True)
    assert key is not None
    write_marker(conn, key, iso(now))
    step = 30 * DAY / count
    prev = GENESIS
    rows: list[tuple[Any, ...]] = []
    conn.execute("BEGIN")
    for i in range(count):
        row, _ = encode_event(make_event(rng, now - 30 * DAY + i * step, i), "bench")
        chained = (*row, prev)
        prev = key.link(prev, chained)
        rows.append((*chained, prev))
        if len(rows) == 1000:  # the writer's batch size: the same incident upkeep
            conn.executemany(INSERT, rows)
            update_incidents(conn, rows)
            rows.clear()
    conn.executemany(INSERT, rows)
    update_incidents(conn, rows)
    conn.execute("COMMIT")
    conn.close()
    return time.perf_counter() - started


def median_ms(fn: Callable[[], object], runs: int = 5) -> tuple[float, object]:
    timings = []
    result: object = None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), result


def bench_queries(path: Path, now: float) -> list[tuple[str, float, str]]:
    conn = q.connect_readonly(path)
    since = now - DAY
    incident = conn.execute(
        "SELECT incident FROM events WHERE time >= ? AND incident IS NOT NULL LIMIT 1",
        [iso(since)],
    ).fetchone()[0]
    cases: list[tuple[str, Callable[[], object]]] = [
        ("list_events 24h limit 1000", lambda: q.list_events(conn, q.AuditQuery(since=since))),
        (
            "list_events 24h policy filter",
            lambda: q.list_events(conn, q.AuditQuery(since=since, policy="policy-7")),
        ),
        (
            "list_events 24h kind prefix action.",
            lambda: q.list_events(conn, q.AuditQuery(since=since, kinds=("action.",))),
        ),
        ("count_by_kind 24h", lambda: q.count_by_kind(conn, since)),
        (f"incident_events {incident}", lambda: q.incident_events(conn, incident)),
        ("list_incidents open", lambda: q.list_incidents(conn, open_only=True)),
    ]
    results = []
    for name, fn in cases:
        ms, result = median_ms(fn)
        size = len(result) if isinstance(result, list | dict) else 0
        results.append((name, ms, f"{size} rows"))
    started = time.perf_counter()
    verdict = verify(conn, load_key(None, path))
    results.append(
        (
            "verify (whole log, keyed)",
            (time.perf_counter() - started) * 1000,
            f"{verdict.checked} events, ok={verdict.ok}",
        )
    )
    conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=200_000, help="events for the write test")
    parser.add_argument("--db-events", type=int, default=1_000_000, help="events for the query DB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rate = asyncio.run(bench_writes(Path(tmp) / "writes.db", args.events))
        print(f"(a) emit+flush: {args.events} events, {rate:,.0f} events/s (target >= 10,000/s)")
        now = time.time()
        path = Path(tmp) / "month.db"
        built = build_database(path, args.db_events, now)
        size_mb = path.stat().st_size / 1e6
        print(
            f"(b) built {args.db_events:,} events over 30 days in {built:.1f}s ({size_mb:.0f} MB)"
        )
        for name, ms, note in bench_queries(path, now):
            print(f"    {name:<40} {ms:8.1f} ms  ({note})")
        print("    target: each 24 h query <= 200 ms (median of 5)")


if __name__ == "__main__":
    main()
