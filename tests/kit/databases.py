"""Real PostgreSQL and Redis servers for the database probe and action tests (tests/db
takes the fixtures through its conftest.py, and the types from here).

PostgreSQL: ``scripts/provision-postgres.sh`` starts the Debian cluster ``15 main`` on
127.0.0.1:5432 and makes a throwaway test superuser ``medic_test`` / ``medic-test``
reachable over TCP with a password. Each test then makes its own scratch database and
roles (random names, random passwords) through that superuser and drops them after,
so tests never see each other's connections: the probe is pointed at the scratch
database with ``databases: [...]``. Roles made here get ``pg_monitor`` (to see other
roles' session states) and ``pg_signal_backend`` (to terminate), like a real Medic role.

Redis: each test that needs one starts a private ``redis-server`` on a free port (so it
may set maxmemory or a password); ``scripts/provision-redis.sh`` installs the binary.

A missing server fails the test with a message naming the provision script; nothing
is skipped.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
import redis

from kit.ports import free_port

PG_HOST, PG_PORT = "127.0.0.1", 5432
ADMIN_DSN = f"postgresql://medic_test:medic-test@{PG_HOST}:{PG_PORT}/postgres"
PG_HINT = "run scripts/provision-postgres.sh as root (installs and starts PostgreSQL 15)"
REDIS_HINT = "run scripts/provision-redis.sh as root (installs redis-server)"


@dataclass
class Scratch:
    """A database and roles of one test's own on the shared cluster."""

    database: str
    password: str
    admin: asyncpg.Connection
    roles: list[str] = field(default_factory=list)
    held: list[asyncpg.Connection] = field(default_factory=list)
    tasks: list[asyncio.Task[object]] = field(default_factory=list)

    def dsn(self, role: str, database: str | None = None) -> str:
        return (
            f"postgresql://{role}:{self.password}@{PG_HOST}:{PG_PORT}/{database or self.database}"
        )

    async def role(self, *, superuser: bool = False, grants: bool = True) -> str:
        """A new login role; ordinary roles get pg_monitor and pg_signal_backend."""
        name = f"mt_{uuid.uuid4().hex[:10]}"
        kind = "SUPERUSER" if superuser else "NOSUPERUSER"
        await self.admin.execute(f"CREATE ROLE {name} LOGIN {kind} PASSWORD '{self.password}'")
        self.roles.append(name)
        if grants and not superuser:
            await self.admin.execute(f"GRANT pg_monitor, pg_signal_backend TO {name}")
        await self.admin.execute(f"GRANT ALL ON DATABASE {self.database} TO {name}")
        return name

    async def connect(self, role: str, app: str, database: str | None = None) -> asyncpg.Connection:
        """An idle connection held until the test ends."""
        conn = await asyncpg.connect(
            self.dsn(role, database), server_settings={"application_name": app}, timeout=10
        )
        self.held.append(conn)
        return conn

    def background(self, conn: asyncpg.Connection, sql: str) -> None:
        """Run ``sql`` on ``conn`` without waiting (a long query, a blocked one)."""
        self.tasks.append(asyncio.ensure_future(conn.execute(sql)))

    async def pids(self, app: str) -> set[int]:
        rows = await self.admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
            self.database,
            app,
        )
        return {r["pid"] for r in rows}

    async def wait_state(self, app: str, state: str, count: int) -> None:
        """Until ``count`` connections of ``app`` are in ``state`` (10 s at most)."""
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name = $2 AND state = $3"
        )
        for _ in range(200):
            if await self.admin.fetchval(query, self.database, app, state) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{count} connections of {app} never reached state {state!r}")


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(ADMIN_DSN, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL test superuser unreachable at {PG_HOST}:{PG_PORT} ({exc}): {PG_HINT}"
        )


@pytest_asyncio.fixture
async def pg() -> AsyncIterator[Scratch]:
    """A scratch database (dropped after, with every connection to it)."""
    admin = await _admin()
    scratch = Scratch(f"mt_{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex}", admin)
    await admin.execute(f"CREATE DATABASE {scratch.database}")
    try:
        yield scratch
    finally:
        for task in scratch.tasks:
            task.cancel()
        await asyncio.gather(*scratch.tasks, return_exceptions=True)
        for conn in scratch.held:
            conn.terminate()
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 "
            "OR usename = ANY($2::text[])",
            scratch.database,
            scratch.roles,
        )
        await admin.execute(f"DROP DATABASE IF EXISTS {scratch.database} WITH (FORCE)")
        for role in scratch.roles:
            await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that completes TCP handshakes (the kernel's backlog) and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


@dataclass
class RedisServer:
    port: int
    password: str | None

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(port=self.port, db=db, password=self.password, socket_timeout=10)


def start_redis(
    tmp: Path, *args: str, password: str | None = None
) -> tuple[RedisServer, subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(f"redis-server is not installed: {REDIS_HINT}")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(tmp), *args]
    if password:
        argv += ["--requirepass", password]
    with (tmp / f"redis-{port}.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    server = RedisServer(port, password)
    deadline = time.monotonic() + 15
    while True:
        try:
            if server.client().ping():
                return server, proc
        except redis.RedisError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            text = (tmp / f"redis-{port}.log").read_text()[-2000:]
            pytest.fail(f"redis-server on port {port} did not answer PING:\n{text}")
        time.sleep(0.05)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server with maxmemory 64 MiB."""
    server, proc = start_redis(tmp_path, "--maxmemory", "64mb")
    yield server
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def redis_with_password(tmp_path: Path) -> Iterator[RedisServer]:
    """A private redis-server that requires a password."""
    server, proc = start_redis(tmp_path, password=f"rpw-{uuid.uuid4().hex}")
    yield server
    proc.terminate()
    proc.wait(10)
