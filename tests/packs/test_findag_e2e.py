"""The FinDAG pack (policies/findag/) end to end: real `medic run`, real Docker, real
SQLite; the FinDAG node itself is a busybox stub built offline (medic-test/busybox:1).

Per test, what differs from the shipped files (tests/packs/conftest.py does the copy):
the container is ``findag-node-<uuid>`` instead of ``findag-node``, the API is on a free
port instead of :8080, the backup paths live in a temporary directory, and the waits
are shortened (``probe.every`` 1 s, ``verify.after`` 3 s) so each test takes seconds.
The weekly optimisation job is due at once (``interval: 1h`` for its Sunday cron) and
talks to a stub admin API in the test process instead of the node's :8080.
"""

from __future__ import annotations

import gzip
import os
import sqlite3
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kit.containers import memory_usage, oom_events
from kit.http_stub import Reply, Request, StubServer
from kit.packs import FAST, Receiver, pack_agent, pack_policies
from kit.ports import free_port

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
# The restart policies have depends_on: [findag-db-optimize-weekly], so it is loaded
# beside them, in dry-run: the job never acts or pages there.
IDLE_JOB = {"findag-db-optimize-weekly": {"dry_run": True}}
# The stub node: busybox httpd serving /health, healthy at every start.
STUB = (
    'mkdir -p /www && echo \'{"status": "healthy"}\' > /www/health && exec httpd -f -p 8080 -h /www'
)


# The host's stress-ng (scripts/provision-stress.sh) in the container's cgroup, as
# tests/docker/test_memory_e2e.py runs it: 236 MiB of 256 MiB (over 90 %) at once, 20 s
# later 100 MiB more, which the kernel would answer with the OOM killer.
STRESS = "stress-ng --temp-path /tmp --vm 1 --vm-keep"
GROWING = f"{STRESS} --vm-bytes 236M & sleep 20; exec {STRESS} --vm-bytes 100M"


def health(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
        return str(answer.read().decode())


def test_unhealthy_health_endpoint_restarts_the_container(
    tmp_path: Path,
    receiver: Receiver,
    run_container: Any,
    container_state: Any,
    wait_until: Any,
    unique: str,
) -> None:
    """/health saying {"status": "unhealthy"} -> docker restart findag-node -> healthy."""
    name, port = f"findag-node-{unique}", free_port()
    node = run_container(
        "sh", "-c", STUB, name=name, network_mode="bridge",
        ports={"8080/tcp": ("127.0.0.1", port)},
    )  # fmt: skip
    wait_until(lambda: _answers(port), timeout=20, what="the stub's /health")
    first_start = container_state(node)["StartedAt"]
    agent = pack_agent(tmp_path, "findag", receiver)
    agent.write_policy(
        "findag.yaml",
        pack_policies(
            "findag",
            ["findag-health-unhealthy", "findag-container-down", "findag-db-optimize-weekly"],
            replace={"findag-node": name, "localhost:8080": f"127.0.0.1:{port}"},
            override={
                "findag-health-unhealthy": FAST,
                "findag-container-down": FAST,
                **IDLE_JOB,
            },
        ),
    )
    try:
        agent.start()
        agent.wait_for(lambda: bool(agent.events("policy.loaded")), what="policy.loaded")
        code, _ = node.exec_run(["sh", "-c", 'echo \'{"status": "unhealthy"}\' > /www/health'])
        assert code == 0
        agent.wait_for(lambda: bool(agent.events("verify.healed")), what="the heal", timeout=40)
    finally:
        agent.stop()

    (fired,) = agent.events("incident.fired")
    assert (fired["policy"], fired["values"]["health"]) == ("findag-health-unhealthy", "unhealthy")
    # One action: findag-container-down saw the restart's stop and left it alone.
    (started,) = agent.events("action.started")
    assert (started["policy"], started["details"]["type"]) == ("findag-health-unhealthy", "command")
    assert container_state(node)["StartedAt"] != first_start
    assert '"healthy"' in health(port)
    assert agent.events("incident.escalated") == []


def _answers(port: int) -> bool:
    try:
        return "healthy" in health(port)
    except OSError:
        return False


def test_memory_hog_is_restarted_before_the_kernel_kills_it(
    tmp_path: Path,
    receiver: Receiver,
    run_container: Any,
    container_state: Any,
    wait_until: Any,
    unique: str,
    docker_client: Any,
) -> None:
    """Above 90 % of a 256 MiB limit -> container.restart, and no OOM kill on the way."""
    name = f"findag-node-{unique}"
    since = int(time.time()) - 1
    hog = run_container(
        "/bin/busybox", "chroot", "/host", "/bin/sh", "-c", GROWING, name=name,
        mem_limit="256m", memswap_limit="256m", volumes={"/": {"bind": "/host", "mode": "ro"}},
        tmpfs={"/host/tmp": "size=16m"},
    )  # fmt: skip
    wait_until(lambda: memory_usage(docker_client, hog) > 0, timeout=10, what="stats")
    first_start = container_state(hog)["StartedAt"]
    agent = pack_agent(tmp_path, "findag", receiver)
    agent.write_policy(
        "findag.yaml",
        pack_policies(
            "findag",
            ["findag-memory-critical", "findag-db-optimize-weekly"],
            replace={"findag-node": name},
            override={"findag-memory-critical": FAST, **IDLE_JOB},
        ),
    )
    agent.run_until("action.succeeded", what="the restart", timeout=40)

    (detected, *_) = agent.events("incident.detected")
    assert detected["values"]["memory_percent"] > 90
    assert detected["values"]["memory_limit_bytes"] == 256 * MiB
    (started,) = agent.events("action.started")
    assert (started["details"]["type"], started["target"]) == ("container.restart", name)
    assert container_state(hog)["StartedAt"] != first_start
    assert oom_events(docker_client, hog, since) == [], "the kernel OOM-killed in the container"


def test_stale_backup_runs_a_consistent_online_backup_of_the_live_database(
    tmp_path: Path,
    receiver: Receiver,
) -> None:
    """Newest backup 8 days old -> sqlite3 .backup of the live db, checked, gzipped, logged;
    backups older than 30 days go, younger ones stay."""
    data, backup = tmp_path / "data", tmp_path / "backup"
    data.mkdir()
    backup.mkdir()
    db = data / "findag.db"
    week_old = _old_file(backup / "findag-20250101-000000.db.gz", days=8)
    ancient = _old_file(backup / "findag-20241101-000000.db.gz", days=40)
    log = tmp_path / "findag-backups.log"
    writer = LiveWriter(db)
    agent = pack_agent(tmp_path / "agent", "findag", receiver)
    agent.write_policy(
        "findag.yaml",
        pack_policies(
            "findag",
            ["findag-backup-stale"],
            replace={
                "/var/log/findag-backups.log": str(log),
                "/data/findag.db": str(db),
                "/backup": str(backup),
            },
            override={"findag-backup-stale": FAST},
        ),
    )
    try:
        agent.start()
        agent.wait_for(lambda: bool(agent.events("verify.healed")), what="the heal", timeout=40)
    finally:
        agent.stop()
        writer.stop()

    (started,) = agent.events("action.started")
    assert started["details"]["type"] == "command"
    new = sorted(p for p in backup.glob("findag-*.db.gz") if p != week_old)
    assert len(new) == 1, new
    assert week_old.exists() and not ancient.exists()
    copy = tmp_path / "copy.db"
    copy.write_bytes(gzip.decompress(new[0].read_bytes()))
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (rows,) = conn.execute("select count(*) from tx").fetchone()
    assert 0 < rows <= writer.rows
    assert "Backup completed" in log.read_text() and new[0].name in log.read_text()


def _old_file(path: Path, days: int) -> Path:
    path.write_bytes(gzip.compress(b"old"))
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))
    return path


class LiveWriter:
    """The node's database, written to all through the test (WAL, as a live node keeps it)."""

    def __init__(self, path: Path) -> None:
        self.rows = 0
        self.done = threading.Event()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("create table tx (id integer primary key, body text)")
        conn.commit()
        conn.close()
        self.thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self.thread.start()
        while self.rows < 10:
            time.sleep(0.01)

    def _run(self, path: Path) -> None:
        conn = sqlite3.connect(path)
        while not self.done.is_set():
            conn.execute("insert into tx (body) values (?)", ("x" * 200,))
            conn.commit()
            self.rows += 1
            time.sleep(0.005)
        conn.close()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)


class AdminApi(StubServer):
    """The node's admin API on a free port: records each POST (path, bearer token) and
    answers 500 to /admin/db/optimize, 200 to everything else."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        super().__init__(self.answer_call)

    def answer_call(self, request: Request) -> Reply:
        self.calls.append((request.path, request.headers.get("Authorization", "")))
        status = 500 if request.path == "/admin/db/optimize" else 200
        return Reply.json({"ok": status == 200}, status)


def test_failed_weekly_optimisation_still_resumes_transactions_and_pages(
    tmp_path: Path,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The job runs maintenance start and optimize; optimize answers 500 -> maintenance
    end (finally) is still POSTed with the token, and on-call is paged."""
    api = AdminApi()
    monkeypatch.setenv("ADMIN_TOKEN", "weekly-secret")
    agent = pack_agent(tmp_path, "findag", receiver)
    agent.write_policy(
        "findag.yaml",
        pack_policies(
            "findag",
            ["findag-db-optimize-weekly"],
            # Due at once: an interval of 1h whose current occurrence is still open.
            replace={
                'cron: "0 3 * * SUN", timezone: UTC, window: 30m': "interval: 1h",
                "localhost:8080": f"127.0.0.1:{api.port}",
            },
            override={"findag-db-optimize-weekly": {"verify.after": "2s"}},
        ),
    )
    try:
        agent.start()
        agent.wait_for(
            lambda: bool(agent.events("incident.escalated")), what="the page", timeout=40
        )
    finally:
        agent.stop()
        api.close()

    assert api.calls == [
        ("/admin/maintenance/start", "Bearer weekly-secret"),
        ("/admin/db/optimize", "Bearer weekly-secret"),
        ("/admin/maintenance/end", "Bearer weekly-secret"),
    ]
    (failed,) = agent.events("action.failed")
    assert failed["details"]["type"] == "http.request"
    (escalated,) = agent.events("incident.escalated")
    assert escalated["details"]["reason"] == "remediation_failed"
    assert [r["to"] for r in receiver.received] == ["oncall"]
