"""The real agent heals a real PostgreSQL connection pool exhausted by a leaky client.

The test needs a small pool, and max_connections only changes with a server restart,
so it runs a private cluster instead of touching the shared one: ``initdb`` and
``pg_ctl`` from Debian's postgresql-15 (``scripts/provision-postgres.sh``), run as the
``postgres`` OS user in a directory under /tmp, on a free loopback port, with
``max_connections=25`` (22 slots for ordinary roles), password logins over TCP, no
fsync. Medic logs in as a role with only ``pg_monitor`` and ``pg_signal_backend``.

A leaky client (a subprocess holding asyncpg connections) fills the pool to 20/22 with
idle ``leaky-app`` connections, next to a superuser's idle ``leaky-app`` connection and
another application's. The policy terminates idle ``leaky-app`` connections older than
2 s and verifies that ``percent_used`` dropped; the superuser's and the other
application's connections must survive, and the password must be nowhere Medic writes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from kit.agent_harness import AgentProcess
from kit.ports import free_port

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
HINT = "run scripts/provision-postgres.sh as root (installs PostgreSQL 15)"
ENV = "E2E_PG_DSN"
LEAKY = 18  # with the superuser's and the other app's: 20 of 22 slots, 90.9 %

LEAKY_CLIENT = """
import asyncio, json, sys
import asyncpg

async def main():
    held = []
    for dsn, app, count in json.loads(sys.argv[1]):
        for _ in range(count):
            held.append(await asyncpg.connect(
                dsn, server_settings={"application_name": app}, timeout=30))
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


@dataclass
class Cluster:
    port: int
    password: str

    def dsn(self, role: str) -> str:
        return f"postgresql://{role}:{self.password}@127.0.0.1:{self.port}/postgres"


def as_postgres(*argv: str) -> None:
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    done = subprocess.run(
        [runuser, "-u", "postgres", "--", *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        pytest.fail(f"{Path(argv[0]).name} failed ({HINT}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A private PostgreSQL 15 with max_connections=25 on a free port, removed after."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"{PG_BIN / 'initdb'} is missing: {HINT}")
    if os.geteuid() != 0:
        pytest.fail("this test runs initdb as the postgres OS user and needs root")
    work = Path(tempfile.mkdtemp(prefix="medic-pg-e2e-", dir="/tmp"))
    shutil.chown(work, "postgres", "postgres")
    password = f"e2e-Secret-{uuid.uuid4().hex}"
    (work / "pw").write_text(password + "\n")
    shutil.chown(work / "pw", "postgres", "postgres")
    data, port = work / "data", free_port()
    settings = (
        f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={work} "
        "-c max_connections=25 -c superuser_reserved_connections=3 -c fsync=off"
    )
    try:
        as_postgres(
            str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={work / 'pw'}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync", "--no-instructions",
        )  # fmt: skip
        as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(work / "log"), "-w", "-t", "60",
            "-o", settings, "start",
        )  # fmt: skip
        yield Cluster(port, password)
    finally:
        if (data / "postmaster.pid").exists():
            as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(work, ignore_errors=True)


async def sql(dsn: str, *statements: str) -> list[list[asyncpg.Record]]:
    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        return [await conn.fetch(s) for s in statements]
    finally:
        await conn.close()


@pytest.fixture
def leaky(cluster: Cluster) -> Iterator[subprocess.Popen[str]]:
    """The roles, then a client holding the superuser's, the other app's and the leaks."""
    asyncio.run(
        sql(
            cluster.dsn("postgres"),
            f"CREATE ROLE medic_agent LOGIN PASSWORD '{cluster.password}'",
            "GRANT pg_monitor, pg_signal_backend TO medic_agent",
            f"CREATE ROLE app LOGIN PASSWORD '{cluster.password}'",
        )
    )
    spec = [
        (cluster.dsn("postgres"), "leaky-app", 1),
        (cluster.dsn("app"), "other-app", 1),
        (cluster.dsn("app"), "leaky-app", LEAKY),
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", LEAKY_CLIENT, json.dumps(spec)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", "the leaky client could not connect"
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def activity(cluster: Cluster) -> list[tuple[str, str]]:
    rows = asyncio.run(
        sql(
            cluster.dsn("postgres"),
            "SELECT usename, application_name FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
        )
    )[0]
    return sorted((r["usename"], r["application_name"]) for r in rows)


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path)
    yield a
    a.stop()


def test_leaky_app_connections_are_recycled_and_the_pool_heals(
    cluster: Cluster,
    leaky: subprocess.Popen[str],
    agent: AgentProcess,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pool >= 90 %: idle leaky-app connections end, verify heals; superuser and others stay."""
    opened = time.monotonic()
    assert activity(cluster).count(("app", "leaky-app")) == LEAKY
    monkeypatch.setenv(ENV, cluster.dsn("medic_agent"))  # the agent inherits it
    agent.write_policy(
        "pool.yaml",
        [
            {
                "name": "pool-exhausted",
                "probe": {"type": "postgres", "dsn": {"env": ENV}, "every": "1s", "timeout": "5s"},
                "when": "percent_used >= 90",
                "remediate": [
                    {
                        "postgres.terminate": {
                            "dsn": {"env": ENV},
                            "state": ["idle"],
                            "older_than": "2s",
                            "application_name": "leaky-app",
                            "max": 20,
                            "timeout": "10s",
                        }
                    }
                ],
                "verify": {"after": "2s"},
                "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    # The leaks must be older than 2 s by the first check, or it would match none.
    time.sleep(max(0.0, 2.2 - (time.monotonic() - opened)))
    agent.start()
    agent.wait_for(lambda: "verify.healed" in agent.kinds(), what="verify.healed", timeout=40)
    story = [e["kind"] for e in agent.events() if e["policy"] == "pool-exhausted" and e["incident"]]
    assert story == [
        "incident.detected",
        "incident.fired",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    detected = agent.events("incident.detected")[0]["values"]
    assert detected["percent_used"] == round(20 / 22 * 100, 2)
    done = agent.events("action.succeeded")[0]["details"]
    assert len(done["terminated"]) == LEAKY
    assert {(e["user"], e["application"]) for e in done["terminated"]} == {("app", "leaky-app")}
    survivors = [row for row in activity(cluster) if row != ("medic_agent", "medic")]
    assert survivors == [("app", "other-app"), ("postgres", "leaky-app")]
    assert cluster.password not in json.dumps(agent.events(), default=str)
    assert cluster.password not in agent.log.read_text()
