"""The FinAegis pack (policies/finaegis/) end to end: real `medic run`, a real MariaDB,
a real Redis and the real maintenance flag file; the Laravel application itself is
replaced by what it leaves behind (its MySQL connections, its queued jobs in Redis, its
`storage/framework/down`), and Kubernetes' `kubectl` by a stub script.

The MariaDB is a private server of the host's MariaDB (scripts/provision-mariadb.sh)
on a free port with max_connections 20, and real users with grants: `finaegis` (the
application), `reporting` (another user whose connections must survive) and `medic`
(PROCESS, CONNECTION ADMIN). The Redis is a private `redis-server` on a free port.
Per test, what differs from the shipped files (tests/packs/conftest.py does the copy):
the app root /var/www/html is a temporary directory, `kubectl` is the stub, and the
waits are shortened (``probe.every`` 1 s, ``verify.after`` 2 to 3 s, the kill's
``older_than`` 2 s instead of 5 minutes).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import redis

from kit.packs import FAST, Receiver, pack_agent, pack_policies
from kit.ports import free_port

pytestmark = pytest.mark.integration

IDLE = {"older_than: 5m": "older_than: 2s"}  # the runbook's `time > 300`, shortened
PASSWORD = "finaegis-e2e"  # a throwaway credential for this private server only
MAX = 20
PREFIX = "finaegis_database_queues:"


class MariaDB:
    """A private MariaDB server in a temporary directory, with the pack's users."""

    def __init__(self, root: Path) -> None:
        assert Path("/usr/bin/mariadb-install-db").exists(), "run scripts/provision-mariadb.sh"
        self.root, self.port = root, free_port()
        subprocess.run(
            ["/usr/bin/mariadb-install-db", "--no-defaults", f"--datadir={root / 'data'}",
             "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, capture_output=True,
        )  # fmt: skip
        self.proc = subprocess.Popen(
            ["/usr/sbin/mariadbd", "--no-defaults", f"--datadir={root / 'data'}",
             f"--socket={root / 'sock'}", f"--port={self.port}", "--bind-address=127.0.0.1",
             "--user=root", f"--max-connections={MAX}", "--skip-log-bin",
             f"--pid-file={root / 'pid'}", f"--log-error={root / 'error.log'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (root / "sock").exists() or self.sql("SELECT 1", check=False).returncode:
            assert time.monotonic() < deadline, (root / "error.log").read_text()[-2000:]
            time.sleep(0.1)
        for user in ("finaegis", "reporting", "medic"):
            self.sql(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
        self.sql("CREATE DATABASE finaegis")
        self.sql("GRANT ALL ON finaegis.* TO 'finaegis'@'127.0.0.1'")
        self.sql("GRANT PROCESS, CONNECTION ADMIN ON *.* TO 'medic'@'127.0.0.1'")

    def sql(self, query: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/usr/bin/mariadb", "--no-defaults", f"--socket={self.root / 'sock'}", "-uroot",
             "-N", "-B", "-e", query],
            capture_output=True, text=True, check=check,
        )  # fmt: skip

    def connections(self, user: str) -> int:
        assert user.isalnum()  # one of this module's own user names
        query = "SELECT COUNT(*) FROM information_schema.processlist WHERE user = '%s'"
        return int(self.sql(query % user).stdout)

    def connect(self, user: str) -> Any:
        """A connection; while the server still reaps an earlier test's killed sessions
        it may answer 1040 (too many connections) for a moment: try again, for 10 s."""
        deadline = time.monotonic() + 10
        while True:
            try:
                return pymysql.connect(
                    host="127.0.0.1", port=self.port, user=user, password=PASSWORD
                )
            except pymysql.err.OperationalError as exc:
                if exc.args[0] != 1040 or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def dsn(self) -> str:
        return f"mysql://medic:{PASSWORD}@127.0.0.1:{self.port}/"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDB]:
    """The private MariaDB, for this module's tests."""
    top = Path(tempfile.mkdtemp(prefix="medic-finaegis-db-"))
    server = MariaDB(top)
    yield server
    server.stop()
    shutil.rmtree(top, ignore_errors=True)


def fill(mariadb: MariaDB) -> dict[str, list[Any]]:
    """The application's idle connections filling the server: 17 of `finaegis` and 3 of
    `reporting`, 20 of 20 (Medic logs in on the CONNECTION ADMIN extra slot)."""
    conns = {"finaegis": [mariadb.connect("finaegis") for _ in range(17)]}
    conns["reporting"] = [mariadb.connect("reporting") for _ in range(3)]
    return conns


@pytest.fixture
def pool(mariadb: MariaDB) -> Iterator[list[dict[str, list[Any]]]]:
    """Where a test keeps what `fill` opened; all of it closed after the test."""
    made: list[dict[str, list[Any]]] = []
    yield made
    for conns in made:
        for conn in conns["finaegis"] + conns["reporting"]:
            with contextlib.suppress(pymysql.Error):
                conn.close()


def alive(conn: Any) -> bool:
    try:
        conn.ping(reconnect=False)
        return True
    except pymysql.Error:
        return False


def db_agent(tmp_path: Path, receiver: Receiver, names: list[str], app: Path) -> Any:
    agent = pack_agent(tmp_path, "finaegis", receiver)
    agent.write_policy(
        "finaegis.yaml",
        pack_policies(
            "finaegis", names, replace={**IDLE, "/var/www/html": str(app)},
            override={"finaegis-db-connections-critical": FAST,
                      "finaegis-maintenance-mode": {"probe.every": "1s"}},
        ),
    )  # fmt: skip
    return agent


def test_full_pool_kills_the_apps_idle_connections_only_and_heals(
    tmp_path: Path, receiver: Receiver, mariadb: MariaDB, pool: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """20 of 20 connections -> mysql.terminate kills `finaegis`'s idle ones -> healed;
    `reporting`'s connections are untouched."""
    monkeypatch.setenv("FINAEGIS_MYSQL_DSN", mariadb.dsn())
    held = fill(mariadb)
    pool.append(held)
    time.sleep(2.1)  # idle for longer than the shortened older_than
    agent = db_agent(
        tmp_path,
        receiver,
        ["finaegis-maintenance-mode", "finaegis-db-connections-critical"],
        tmp_path / "app",
    )
    agent.run_until("verify.healed", what="the heal", timeout=40)

    (fired,) = agent.events("incident.fired")
    assert fired["values"]["percent_used"] == 100
    (finished,) = agent.events("action.succeeded")
    assert finished["details"]["type"] == "mysql.terminate"
    assert [alive(c) for c in held["finaegis"]] == [False] * 17
    assert [alive(c) for c in held["reporting"]] == [True] * 3
    assert agent.events("incident.escalated") == []


def test_maintenance_flag_holds_the_kill_back_until_artisan_up(
    tmp_path: Path, receiver: Receiver, mariadb: MariaDB, pool: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """In maintenance (storage/framework/down) a full pool -> action.suppressed
    (inhibited), nothing killed; the file removed (`php artisan up`) -> kill, healed.

    The pool fills once the agent has seen the flag: a dependency not yet probed does
    not hold an action back (the engine's check_dependencies; see the pack README)."""
    monkeypatch.setenv("FINAEGIS_MYSQL_DSN", mariadb.dsn())
    app = tmp_path / "app"
    (app / "storage" / "framework").mkdir(parents=True)
    down = app / "storage" / "framework" / "down"
    down.write_text('{"retry": 60}')  # what `php artisan down` writes
    agent = db_agent(
        tmp_path, receiver, ["finaegis-maintenance-mode", "finaegis-db-connections-critical"], app
    )
    try:
        agent.start()
        agent.wait_for(lambda: bool(agent.events("incident.fired")), what="maintenance seen")
        held = fill(mariadb)
        pool.append(held)
        agent.wait_for(lambda: bool(agent.events("action.suppressed")), what="the hold")
        time.sleep(2.1)  # the connections idle for longer than the shortened older_than
        assert agent.events("action.started") == []
        assert mariadb.connections("finaegis") == 17  # counted without touching them
        down.unlink()
        agent.wait_for(lambda: bool(agent.events("verify.healed")), what="the heal", timeout=40)
    finally:
        agent.stop()

    suppressed = agent.events("action.suppressed")[0]
    assert suppressed["details"]["reason"] == "inhibited"
    assert suppressed["details"]["cause"] == "finaegis-maintenance-mode"
    assert [alive(c) for c in held["finaegis"]] == [False] * 17
    assert all(alive(c) for c in held["reporting"])


@pytest.fixture
def queue_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[redis.Redis]:
    """A private redis-server on a free port; FINAEGIS_REDIS_URL points at it."""
    port = free_port()
    proc = subprocess.Popen(
        ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    monkeypatch.setenv("FINAEGIS_REDIS_URL", f"redis://127.0.0.1:{port}/0")
    yield client
    client.close()
    proc.terminate()
    proc.wait(10)


def push_jobs(client: redis.Redis, n: int) -> None:
    """``n`` Laravel-style jobs on the default queue, under Laravel's key prefix."""
    jobs = [f'{{"uuid":"{i}","job":"ProcessTransfer"}}' for i in range(n)]
    client.rpush(f"{PREFIX}default", *jobs)


def test_backlog_in_the_prefixed_queue_pages_oncall(
    tmp_path: Path, receiver: Receiver, queue_redis: redis.Redis
) -> None:
    """1001 jobs in finaegis_database_queues:default (Laravel's prefixed key, not the
    runbook's `queues:default`) -> the warning pages `oncall`, nothing scales."""
    push_jobs(queue_redis, 1001)
    agent = pack_agent(tmp_path, "finaegis", receiver)
    agent.write_policy(
        "finaegis.yaml",
        pack_policies(
            "finaegis",
            ["finaegis-maintenance-mode", "finaegis-queue-backlog-warning",
             "finaegis-queue-backlog-critical"],
            replace={"/var/www/html": str(tmp_path / "app")},
            override={"finaegis-queue-backlog-warning": {"probe.every": "1s"},
                      "finaegis-queue-backlog-critical": {"probe.every": "1s"}},
        ),
    )  # fmt: skip
    try:
        agent.start()
        agent.wait_for(lambda: bool(receiver.received), what="the page")
    finally:
        agent.stop()

    (page,) = receiver.received
    assert page["to"] == "oncall"
    assert page["body"]["policy"] == "finaegis-queue-backlog-warning"
    assert page["body"]["values"]["queue_default"] == 1001
    assert agent.events("action.started") == []


# The kubectl stub: records its argv, and "the 5 Horizon workers" drain the queue.
KUBECTL = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/kubectl.calls"
redis-cli -p {port} DEL {key} >/dev/null
"""


def test_critical_backlog_scales_horizon_which_drains_it(
    tmp_path: Path, receiver: Receiver, queue_redis: redis.Redis
) -> None:
    """5001 jobs -> `kubectl scale deployment/finaegis-horizon --replicas=5` (stub) ->
    the queue drains -> healed, nobody paged."""
    port = queue_redis.connection_pool.connection_kwargs["port"]
    kubectl = tmp_path / "bin" / "kubectl"
    kubectl.parent.mkdir()
    kubectl.write_text(KUBECTL.format(port=port, key=f"{PREFIX}default"))
    kubectl.chmod(0o755)
    push_jobs(queue_redis, 5001)
    agent = pack_agent(tmp_path, "finaegis", receiver)
    agent.write_policy(
        "finaegis.yaml",
        pack_policies(
            "finaegis", ["finaegis-maintenance-mode", "finaegis-queue-backlog-critical"],
            replace={"argv: [kubectl,": f"argv: [{kubectl},",
                     "/var/www/html": str(tmp_path / "app")},
            override={"finaegis-queue-backlog-critical": FAST},
        ),
    )  # fmt: skip
    agent.run_until("verify.healed", what="the heal", timeout=40)

    calls = (tmp_path / "bin" / "kubectl.calls").read_text().splitlines()
    assert calls == ["scale deployment/finaegis-horizon -n finaegis --replicas=5"]
    assert queue_redis.llen(f"{PREFIX}default") == 0
    assert receiver.received == []
