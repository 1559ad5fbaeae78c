"""What one run of the postgres and redis probes costs against the local servers.

Run: ``.venv/bin/python bench/bench_probe_cost_db.py`` after ``scripts/provision-postgres.sh``
and ``scripts/provision-redis.sh`` (PostgreSQL 15 on 127.0.0.1:5432 with the test role
``medic_test``, Redis on 127.0.0.1:6379). Each probe's ``measure()`` runs 500 times back
to back on one kept connection, with 10 idle connections of 3 applications open; the
figures are wall time per run (median and p99), Medic's CPU per run, and how many runs
one core of Medic could do per second. The servers' own CPU is not counted: they run on
the same two cores, so wall time includes their work and any other load on the machine.

The third postgres line is the worst case for the agent: a fresh connection per run (the
probe closed after each, as after a lost connection), with SCRAM authentication.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

import asyncpg
import redis

from benchkit import report, time_runs
from medic.probes.base import Probe
from medic.probes.databases.postgres import PostgresProbe
from medic.probes.databases.redis import RedisProbe

PG_DSN = "postgresql://medic_test:medic-test@127.0.0.1:5432/postgres"
ENV = "MEDIC_BENCH_PG_DSN"
RUNS = 500


async def bench(label: str, make: Callable[[], Probe], runs: int, *, reconnect: bool) -> None:
    probe = make()
    probe.timeout = 5.0
    first = await probe.measure()  # connect, warm caches
    down = [f.get("error") for f in first.values() if not f.get("reachable")]
    if not first or down:
        raise SystemExit(f"{label}: nothing measured ({down}); run the provision scripts")
    walls, cpu, _ = await time_runs(probe, runs, probe.close if reconnect else None)
    await probe.close()
    report(label, runs, walls, cpu, width=44)


def seed_redis() -> None:
    client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5)
    client.delete("bench:queue", "bench:stream")
    client.rpush("bench:queue", *range(1000))
    for i in range(100):
        client.xadd("bench:stream", {"n": i})
    client.close()


async def hold_connections(count: int) -> list[asyncpg.Connection]:
    """Idle connections of three applications, so there is something to count and group."""
    return [
        await asyncpg.connect(PG_DSN, server_settings={"application_name": f"bench-{i % 3}"})
        for i in range(count)
    ]


async def main() -> None:
    os.environ[ENV] = PG_DSN
    seed_redis()
    held = await hold_connections(10)
    dsn = {"dsn": {"env": ENV}}
    cases: list[tuple[str, Callable[[], Probe], bool]] = [
        ("postgres (server, kept connection)", lambda: PostgresProbe(dsn), False),
        (
            "postgres (group_by application)",
            lambda: PostgresProbe({**dsn, "group_by": "application"}),
            False,
        ),
        ("postgres (new connection each run)", lambda: PostgresProbe(dsn), True),
        ("redis (INFO only)", lambda: RedisProbe({}), False),
        (
            "redis (INFO + 3 keys: list, stream, missing)",
            lambda: RedisProbe({"lists": ["bench:queue", "bench:stream", "bench:none"]}),
            False,
        ),
    ]
    print(f"host: {os.cpu_count()} CPUs; wall time and Medic's CPU per run")
    try:
        for label, make, reconnect in cases:
            await bench(label, make, RUNS if not reconnect else RUNS // 5, reconnect=reconnect)
    finally:
        for conn in held:
            await conn.close()


def run() -> Any:
    return asyncio.run(main())


if __name__ == "__main__":
    run()
