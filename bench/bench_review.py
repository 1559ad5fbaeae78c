"""Review page reads over a month of audit log: overview, incident pages, one incident.

    .venv/bin/python bench/bench_review.py [--db-events 1000000] [--keep PATH]

Builds the same database as ``bench_audit.py`` (``--db-events`` events over 30 days,
about 20 events per incident), then times what the web page asks for over the last
24 h, median of 5 runs each (target <= 200 ms each), and the last page of all
incidents (keyset paging: as cheap as the first).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_audit import DAY, build_database, median_ms
from medic.audit import query as q
from medic.audit.review import IncidentFilter, list_incidents, overview
from medic.audit.review_incident import incident_review


def cases(path: Path, now: float) -> list[tuple[str, Callable[[], object]]]:
    conn = q.connect_readonly(path)
    since = now - DAY
    day = IncidentFilter(since=since)
    first = list_incidents(conn, day, limit=50, now=now)
    incident = first.incidents[0]["id"]
    deep = list_incidents(conn, IncidentFilter(), limit=500, now=now)
    while deep.next is not None and len(deep.incidents) == 500:
        last = deep
        deep = list_incidents(
            conn, IncidentFilter(), limit=500, now=now, cursor=("after", deep.next)
        )
    cursor = last.next if deep.next is None else deep.next
    assert cursor is not None
    return [
        ("overview 24h", lambda: overview(conn, since, now)),
        ("overview 7d", lambda: overview(conn, now - 7 * DAY, now)),
        ("incidents 24h, first page of 50", lambda: list_incidents(conn, day, limit=50, now=now)),
        (
            "incidents 24h, status=suppressed",
            lambda: list_incidents(
                conn, IncidentFilter(status="suppressed", since=since), limit=50, now=now
            ),
        ),
        (
            "incidents 24h, policy=policy-7",
            lambda: list_incidents(
                conn, IncidentFilter(policy="policy-7", since=since), limit=50, now=now
            ),
        ),
        (
            "incidents, all time, a page near the end",
            lambda: list_incidents(
                conn, IncidentFilter(), limit=50, now=now, cursor=("after", cursor)
            ),
        ),
        (f"incident_review {incident}", lambda: incident_review(conn, incident, now)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db-events", type=int, default=1_000_000, help="events in the DB")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the DB at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "month.db"
        now = time.time()
        if not path.exists():
            built = build_database(path, args.db_events, now)
            print(f"built {args.db_events:,} events over 30 days in {built:.1f}s")
        else:
            now = path.stat().st_mtime
        for name, fn in cases(path, now):
            ms, _ = median_ms(fn)
            print(f"    {name:<45} {ms:8.1f} ms")
        print("    target: each <= 200 ms (median of 5)")


if __name__ == "__main__":
    main()
