"""Fixtures for the fleet tests: a real 3-member etcd cluster (tests/kit/etcd.py), a
central audit database, and `medic fleet review`'s server over it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kit.central import CentralReviewServer, create_db, drop_db, dsn_of, healed, opened, ship
from kit.etcd import EtcdCluster


@pytest.fixture
def etcd_cluster(tmp_path: Path) -> Iterator[EtcdCluster]:
    """A fresh 3-member etcd cluster of this test's own."""
    cluster = EtcdCluster(tmp_path / "etcd")
    cluster.root.mkdir()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest_asyncio.fixture
async def central() -> AsyncIterator[str]:
    """A central audit database of this test's own (dropped after)."""
    name = await create_db()
    try:
        yield name
    finally:
        await drop_db(name)


@pytest_asyncio.fixture
async def central_review(
    central: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[CentralReviewServer]:
    """Two agents' incidents shipped to a central database, and `medic fleet review`'s
    server over it on a free loopback port: node-a healed ``web-memory`` on web1 (two
    attempts), node-b has ``disk-full`` open on db1, and both have an incident ``dup``."""
    from medic.api.appkeys import ApiToken
    from medic.api.central import open_pool, start_central
    from medic.config import ApiConfig

    dsn = dsn_of(central)
    monkeypatch.setenv("CENTRAL_DSN", dsn)
    base = time.time() - 3600
    await ship(
        tmp_path,
        "node-a",
        healed("inc-a1", "web-memory", "web1", base) + opened("dup", "dup", "x", base + 60),
    )
    await ship(
        tmp_path,
        "node-b",
        opened("inc-b1", "disk-full", "db1", base + 30)
        + opened("dup", "dup-policy", "y", base + 90),
    )
    pool = await open_pool(dsn)
    server = await start_central(ApiConfig(port=0), ApiToken(None, "-"), pool)
    try:
        yield CentralReviewServer(server.url, dsn, base)
    finally:
        await server.stop()
        await pool.close()
