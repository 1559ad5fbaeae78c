"""The PFM pack (policies/pfm/) end to end: real `medic run`, real Docker, a real
PostgreSQL; the PFM backend itself is a busybox stub built offline
(medic-test/busybox:1) that runs the host's psql or busybox httpd, and the Solana RPC
node a small JSON-RPC stub.

The PostgreSQL is a private cluster of the host's PostgreSQL 15 on a free port with
max_connections 20 (3 reserved for superusers), so exhausting it disturbs no other
test. Per test, what differs from the shipped files (tests/packs/conftest.py does the
copy): the backend container is ``pfm-backend-<uuid>`` instead of ``pfm-backend-1``,
the backend and RPC URLs are the stubs', and the waits are
shortened (``probe.every`` 1 s, ``verify.after`` 3 s, ``for`` 2 to 3 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.http_stub import Reply, Request, StubServer
from kit.packs import FAST, Receiver, pack_agent, pack_policies
from kit.ports import free_port
from medic.clock import parse_iso

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SLOTS = 17  # max_connections 20 less superuser_reserved_connections 3


class Cluster:
    """A private PostgreSQL cluster: trust auth on 127.0.0.1, owned by the postgres user."""

    def __init__(self, root: Path) -> None:
        assert (PG_BIN / "initdb").exists(), "run scripts/provision-postgres.sh (PostgreSQL 15)"
        self.root, self.port = root, free_port()
        root.mkdir(parents=True)
        shutil.chown(root, "postgres", "postgres")
        self._as_postgres(
            str(PG_BIN / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres"
        )
        self.proc = subprocess.Popen(
            ["/usr/sbin/runuser", "-u", "postgres", "--", str(PG_BIN / "postgres"),
             "-D", str(root / "data"), "-p", str(self.port), "-k", str(root),
             "-c", "listen_addresses=127.0.0.1",
             "-c", "max_connections=20", "-c", "superuser_reserved_connections=3"],
            stdout=subprocess.DEVNULL, stderr=(root / "postgres.log").open("wb"),
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while self.sql("select 1", check=False).returncode != 0:
            assert time.monotonic() < deadline, (root / "postgres.log").read_text()[-2000:]
            time.sleep(0.2)
        self.sql("create role pfm_user login password 'pfm' nosuperuser")
        self.sql("create database pfm_community_production owner pfm_user")

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(["/usr/sbin/runuser", "-u", "postgres", "--", *argv], check=True,
                       capture_output=True, cwd="/")  # fmt: skip

    def sql(self, query: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-Atc", query],
            capture_output=True, text=True, check=check,
        )  # fmt: skip

    def connections(self, user: str) -> int:
        query = "select count(*) from pg_stat_activity where usename = $1"
        return int(self.sql(query.replace("$1", f"'{user}'")).stdout)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """The private cluster, for this module's tests (in /tmp: the postgres user must reach it)."""
    top = Path(tempfile.mkdtemp(prefix="medic-pfm-pg-"))
    top.chmod(0o755)
    c = Cluster(top / "cluster")
    yield c
    c.stop()
    shutil.rmtree(top, ignore_errors=True)


# The leaky backend: on its first start it opens every slot PostgreSQL has for
# ordinary roles and never closes them (psql idle in `\\watch`, which the server drops
# the moment the client dies); a restart ends them, and the restarted backend (/leaked
# is in its own writable layer) behaves. A psql turned away while another client
# (the test's own checks) held a slot for a moment tries again, so all of them get in.
LEAKY = f"""
if [ -e /leaked ]; then exec sleep 100000; fi
touch /leaked
i=0
while [ $i -lt {SLOTS} ]; do
  chroot /host /bin/sh -c 'until echo "select 1 \\watch 3600" \\
    | {PG_BIN}/psql -qAt "$DSN" >/dev/null 2>&1; do sleep 0.2; done' &
  i=$((i + 1))
done
wait
"""


def test_leaky_backend_that_exhausts_the_pool_is_restarted_and_the_pool_freed(
    tmp_path: Path, receiver: Receiver, cluster: Cluster, run_container: Any,
    container_state: Any, wait_until: Any, unique: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Backend holds every slot -> pfm-db-pool-exhausted restarts it -> slots free again."""
    name = f"pfm-backend-{unique}"
    dsn = f"postgresql://pfm_user:pfm@127.0.0.1:{cluster.port}/pfm_community_production"
    backend = run_container(
        "sh", "-c", LEAKY, name=name, network_mode="host", environment={"DSN": dsn},
        volumes={"/": {"bind": "/host", "mode": "ro"}},
    )  # fmt: skip
    # Every ordinary slot held (the last psql may still be connecting, or retrying after
    # a check of ours took its slot for a moment): then the server turns a client away.
    wait_until(lambda: cluster.connections("pfm_user") == SLOTS, timeout=60, what="the leak")
    assert _pool_full(dsn)
    first_start = container_state(backend)["StartedAt"]
    monkeypatch.setenv("PFM_PG_DSN", f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
    agent = pack_agent(tmp_path, "pfm", receiver)
    agent.write_policy(
        "pfm.yaml",
        pack_policies(
            "pfm", ["pfm-db-pool-exhausted", "pfm-postgres-down"],
            replace={"pfm-backend-1": name},
            override={"pfm-db-pool-exhausted": FAST, "pfm-postgres-down": FAST},
        ),
    )  # fmt: skip
    agent.run_until("verify.healed", what="the heal", timeout=60)

    (fired,) = agent.events("incident.fired")
    assert (fired["policy"], fired["values"]["percent_used"]) == ("pfm-db-pool-exhausted", 100)
    (started,) = agent.events("action.started")
    assert (started["details"]["type"], started["target"]) == (
        "container.restart", f"127.0.0.1:{cluster.port}"
    )  # fmt: skip
    assert container_state(backend)["StartedAt"] != first_start
    assert cluster.connections("pfm_user") == 0
    assert agent.events("incident.escalated") == []  # a full server is not a down one


def _pool_full(dsn: str) -> bool:
    """True when PostgreSQL refuses one more ordinary client for want of slots."""
    refused = subprocess.run(
        [str(PG_BIN / "psql"), dsn, "-Atc", "select 1"], capture_output=True, text=True, check=False
    )
    return "too many clients" in refused.stderr or "remaining connection slots" in refused.stderr


# The backend stub: busybox httpd serving /health, healthy at every start.
STUB = "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 3000 -h /www"


def test_backend_down_for_the_for_period_is_restarted_and_healthy_again(
    tmp_path: Path, receiver: Receiver, cluster: Cluster, run_container: Any,
    container_state: Any, wait_until: Any, unique: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """/health failing for the `for:` period -> container.restart of the backend -> healthy.
    Its dependencies run beside it (no pfm container stopped, the database up)."""
    monkeypatch.setenv("PFM_PG_DSN", f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres")
    name, port = f"pfm-backend-{unique}", free_port()
    backend = run_container(
        "sh", "-c", STUB, name=name, network_mode="bridge",
        ports={"3000/tcp": ("127.0.0.1", port)},
    )  # fmt: skip
    wait_until(lambda: _healthy(port), timeout=20, what="the stub's /health")
    first_start = container_state(backend)["StartedAt"]
    agent = pack_agent(tmp_path, "pfm", receiver)
    agent.write_policy(
        "pfm.yaml",
        pack_policies(
            "pfm", ["pfm-backend-down", "pfm-container-stopped", "pfm-postgres-down"],
            replace={"pfm-backend-1": name, "http://api.pfm-community.com": f"http://127.0.0.1:{port}"},
            override={"pfm-backend-down": {**FAST, "for": "3s"}},
        ),
    )  # fmt: skip
    try:
        agent.start()
        agent.wait_for(lambda: bool(agent.events("policy.loaded")), what="policy.loaded")
        code, _ = backend.exec_run(["rm", "/www/health"])
        assert code == 0
        agent.wait_for(lambda: bool(agent.events("verify.healed")), what="the heal", timeout=40)
    finally:
        agent.stop()

    (detected,) = agent.events("incident.detected")
    (fired,) = agent.events("incident.fired")
    assert (
        parse_iso(fired["time"]) - parse_iso(detected["time"]) >= 2.9
    )  # down for the whole `for:` first
    (started,) = agent.events("action.started")
    assert (started["details"]["type"], started["target"]) == (
        "container.restart", f"http://127.0.0.1:{port}/health"
    )  # fmt: skip
    assert container_state(backend)["StartedAt"] != first_start
    assert _healthy(port)
    assert agent.events("incident.escalated") == []


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


class RpcStub(StubServer):
    """A Solana RPC node: answers getHealth with "ok", or with the behind error."""

    def __init__(self) -> None:
        self.behind = False
        self.calls: list[dict[str, Any]] = []
        super().__init__(self.answer_call)

    def answer_call(self, request: Request) -> Reply:
        call = request.json()
        self.calls.append(call)
        if self.behind:
            error = {"code": -32005, "message": "Node is behind by 1200 slots"}
            return Reply.json({"jsonrpc": "2.0", "id": call["id"], "error": error})
        return Reply.json({"jsonrpc": "2.0", "id": call["id"], "result": "ok"})


def test_solana_rpc_falling_behind_pages_ops_development_and_management(
    tmp_path: Path, receiver: Receiver
) -> None:
    """getHealth answering "Node is behind" for the `for:` period -> one page per notifier,
    severity error, and nothing restarted (a restart would not switch the endpoint)."""
    rpc = RpcStub()
    agent = pack_agent(tmp_path, "pfm", receiver)
    agent.write_policy(
        "pfm.yaml",
        pack_policies(
            "pfm", ["pfm-solana-rpc-unhealthy"],
            replace={"https://api.mainnet-beta.solana.com": rpc.url},
            override={"pfm-solana-rpc-unhealthy": {"probe.every": "1s", "for": "2s"}},
        ),
    )  # fmt: skip
    try:
        agent.start()
        agent.wait_for(lambda: len(rpc.calls) >= 2, what="healthy getHealth calls")
        assert agent.events("incident.detected") == []
        rpc.behind = True
        agent.wait_for(lambda: len(receiver.received) >= 3, what="the pages", timeout=30)
    finally:
        agent.stop()
        rpc.server.shutdown()

    assert rpc.calls[0]["method"] == "getHealth"
    assert sorted(p["to"] for p in receiver.received) == ["developers", "management", "oncall"]
    body = receiver.received[0]["body"]
    assert body["policy"] == "pfm-solana-rpc-unhealthy"
    assert body["reason"] == "no_remediation"
    assert body["values"]["rpc_error"] == "Node is behind by 1200 slots"
    assert agent.events("action.started") == []


def test_wednesday_vacuum_and_reindex_run_once_oncall_approves(
    tmp_path: Path, receiver: Receiver, cluster: Cluster, wait_until: Any,
) -> None:  # fmt: skip
    """The runbook's one-string `VACUUM ANALYZE; REINDEX ...` fails in a transaction
    block; pfm-weekly-db-maintenance asks on-call, and once approved runs both and is done.

    Differs from the shipped policy: the host's psql on the private cluster instead of
    `docker exec pfm-postgres-1 psql`, and `interval: 10m` instead of Wednesday 02:00
    (an interval's current occurrence is due at start)."""
    db = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "pfm_user", "-d",
          "pfm_community_production"]  # fmt: skip
    psql = [str(PG_BIN / "psql"), *db, "-v", "ON_ERROR_STOP=1"]
    subprocess.run([*psql, "-c", "create table members (id int primary key)"], check=True)
    runbook = "VACUUM ANALYZE; REINDEX DATABASE pfm_community_production;"
    refused = subprocess.run([*psql, "-c", runbook], capture_output=True, text=True, check=False)
    assert "cannot run inside a transaction block" in refused.stderr
    agent = pack_agent(tmp_path, "pfm", receiver)
    agent.write_policy(
        "pfm.yaml",
        pack_policies(
            "pfm", ["pfm-weekly-db-maintenance"],
            replace={
                "docker, exec, pfm-postgres-1, psql, -U, pfm_user, -d, pfm_community_production":
                    ", ".join(f'"{arg}"' for arg in [str(PG_BIN / "psql"), *db]),
                'cron: "0 2 * * WED", timezone: UTC, window: 4h': "interval: 10m",
            },
            override={"pfm-weekly-db-maintenance": {"verify.after": "2s"}},
        ),
    )  # fmt: skip
    try:
        agent.start()
        agent.wait_for(lambda: bool(agent.events("approval.requested")), what="the question")
        assert agent.events("action.started") == []
        (asked,) = agent.events("approval.requested")
        token = (tmp_path / "state" / "api.token").read_text().strip()
        answer = subprocess.run(
            [sys.executable, "-m", "medic", "approve", asked["incident"], "--by", "oncall",
             "--url", f"http://127.0.0.1:{agent.port}", "--token", "env:PFM_E2E_TOKEN"],
            capture_output=True, text=True, check=False, timeout=60,
            env={**os.environ, "PFM_E2E_TOKEN": token},
        )  # fmt: skip
        assert answer.returncode == 0, answer.stderr
        agent.wait_for(lambda: bool(agent.events("verify.healed")), what="the job done", timeout=60)
    finally:
        agent.stop()

    steps = [e["details"]["argv"][-1] for e in agent.events("action.succeeded")]
    assert steps == ["VACUUM ANALYZE", "REINDEX DATABASE pfm_community_production"]
    assert [p["to"] for p in receiver.received if p["body"]["reason"] == "approval_required"] == [
        "oncall"
    ]
    stats = "select last_vacuum is not null and last_analyze is not null from pg_stat_user_tables"

    def vacuumed() -> bool:
        read = subprocess.run([*psql, "-Atc", stats], capture_output=True, text=True, check=True)
        return read.stdout.strip() == "t"

    wait_until(vacuumed, timeout=10, what="the vacuum")
