"""The EventChain pack (policies/eventchain/) end to end: real `medic run`, a real
PostgreSQL 15 cluster of each test's own (initdb, with WAL archiving into a directory
the test holds), real pg_dump and pg_restore, and for the certificate a real nginx,
certbot and pebble ACME server (the fixtures of tests/integration/test_cert_renewal_e2e.py).
Pages go to a local webhook receiver standing in for the pack's notifiers.

What differs from the shipped files (tests/packs/conftest.py does the copy): the backup
directory /var/backups/eventchain is a temporary one; the certificate is served on a
free port for ``localhost`` (what pebble issues) instead of :443 for eventchain.com;
certbot and nginx get the test instances' directories (``--config-dir``..., ``-p``/``-c``);
``probe.every`` is 1 s and ``verify.after`` 3 s; for the error rate, a real Prometheus
on a free port instead of :9090 scrapes a stub application every second, so its
``[5m]`` windows are ``[10s]`` and ``for: 5m`` is 10 s. For file-system changes, sudoers.d is a
temporary directory. The database is reached the way the
pack says, through $DB_HOST and $DB_USER (plus $PGPORT) in the agent's environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kit.acme_site import DOMAIN, Site, age_lineage, run, site, wait_until
from kit.http_stub import Reply, Request, StubServer
from kit.packs import FAST, Receiver, pack_agent, pack_policies
from kit.ports import free_port
from kit.promstack import Service, start_prometheus, wait_for_series

pytestmark = pytest.mark.integration

__all__ = ["site"]  # the certificate test's fixture, used here by name

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PSQL, PG_DUMP, PG_RESTORE, RUNUSER = (
    "/usr/bin/psql",
    "/usr/bin/pg_dump",
    "/usr/bin/pg_restore",
    "/usr/sbin/runuser",
)
HOUR = 3600
# Segments still waiting for archive_command: none once the archiver caught up.
READY = "select name from pg_ls_archive_statusdir() where name like '%.ready'"


@dataclass
class Cluster:
    """A PostgreSQL cluster of one test's own, archiving WAL into ``backups/wal``."""

    root: Path
    port: int

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def wal(self) -> Path:
        return self.backups / "wal"

    def psql(self, sql: str, database: str = "eventchain_prod") -> str:
        argv = [PSQL, "-X", "-At", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        done = subprocess.run(
            [*argv, "-d", database, "-c", sql],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The agent's environment as the pack expects it: DB_HOST, DB_USER (and the port)."""
        monkeypatch.setenv("DB_HOST", "127.0.0.1")
        monkeypatch.setenv("DB_USER", "postgres")
        monkeypatch.setenv("PGPORT", str(self.port))


def as_postgres(*argv: str) -> None:
    done = subprocess.run(
        [RUNUSER, "-u", "postgres", "--", *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """initdb + start on a free port, archive_command copying into backups/wal."""
    assert (PG_BIN / "initdb").exists(), "PostgreSQL 15 missing: run scripts/provision-postgres.sh"
    # Not pytest's tmp_path: the postgres user must reach it.
    root = Path(tempfile.mkdtemp(prefix="eventchain-pg-"))
    c = Cluster(root, free_port())
    c.wal.mkdir(parents=True)
    shutil.chown(root, "postgres", "postgres")
    shutil.chown(c.backups, "postgres", "postgres")
    shutil.chown(c.wal, "postgres", "postgres")
    as_postgres(str(PG_BIN / "initdb"), "-D", f"{root}/data", "-A", "trust", "-U", "postgres")
    with (root / "data" / "postgresql.conf").open("a") as conf:
        conf.write(
            f"port = {c.port}\nunix_socket_directories = '{root}'\n"
            "listen_addresses = '127.0.0.1'\narchive_mode = on\n"
            f"archive_command = 'test ! -f {c.wal}/%f && cp %p {c.wal}/%f'\n"
        )
    pg_ctl = str(PG_BIN / "pg_ctl")
    as_postgres(pg_ctl, "-D", f"{root}/data", "-l", f"{root}/log", "-w", "start")
    try:
        c.psql("create database eventchain_prod", database="postgres")
        c.psql("create table events (id serial primary key, body text)")
        c.psql("insert into events (body) select 'event ' || g from generate_series(1, 500) g")
        yield c
    finally:
        as_postgres(pg_ctl, "-D", f"{root}/data", "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def archived(cluster: Cluster) -> set[str]:
    return {p.name for p in cluster.wal.iterdir()}


def stale_archive(cluster: Cluster) -> set[str]:
    """One segment archived for real, then made two hours old."""
    cluster.psql("select txid_current()")
    cluster.psql("select pg_switch_wal()")
    wait_until(
        lambda: archived(cluster) and not cluster.psql(READY), "the archiver", cluster.root / "log"
    )
    for path in cluster.wal.iterdir():
        age(path, 2 * HOUR)
    return archived(cluster)


def wal_policy(cluster: Cluster) -> str:
    return pack_policies(
        "eventchain",
        ["eventchain-wal-archive-stale"],
        replace={"/var/backups/eventchain": str(cluster.backups)},
        override={"eventchain-wal-archive-stale": FAST},
    )


def test_stale_wal_archive_is_refreshed_by_a_segment_switch(
    cluster: Cluster, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Newest archived WAL 2 h old (an idle database) -> txid + pg_switch_wal -> the
    archiver delivers a new segment -> healed, nobody paged."""
    before = stale_archive(cluster)
    cluster.env(monkeypatch)
    agent = pack_agent(tmp_path / "agent", "eventchain", receiver)
    agent.write_policy("eventchain.yaml", wal_policy(cluster))
    agent.run_until("verify.healed", what="the heal", timeout=40)

    (fired,) = agent.events("incident.fired")
    assert fired["values"]["age"] > HOUR
    (started,) = agent.events("action.started")
    assert started["details"]["type"] == "command"
    new = archived(cluster) - before
    assert new and all(len(name) == 24 for name in new), new
    assert agent.events("incident.escalated") == []
    assert receiver.received == []


def test_broken_wal_archiving_pages_oncall(
    cluster: Cluster, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """archive_command failing (the archive directory no longer writable) -> the switch
    cannot refresh it -> P1 page to on-call, remediation_failed."""
    before = stale_archive(cluster)
    cluster.wal.chmod(0o555)  # postgres may no longer write there: cp fails
    cluster.env(monkeypatch)
    agent = pack_agent(tmp_path / "agent", "eventchain", receiver)
    agent.write_policy("eventchain.yaml", wal_policy(cluster))
    try:
        agent.start()
        agent.wait_for(
            lambda: bool(receiver.received), what="the page to reach the receiver", timeout=40
        )
    finally:
        agent.stop()
        cluster.wal.chmod(0o755)

    (page,) = receiver.received
    assert page["to"] == "oncall"
    body = page["body"]
    assert (body["policy"], body["reason"], body["severity"]) == (
        "eventchain-wal-archive-stale",
        "remediation_failed",
        "error",
    )
    assert archived(cluster) == before
    assert int(cluster.psql("select failed_count from pg_stat_archiver")) > 0


def test_stale_backup_is_dumped_in_a_format_pg_restore_can_list(
    cluster: Cluster, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Newest backup 2 days old -> pg_dump --format=custom, checked by pg_restore --list,
    named backup_YYYYmmdd.dump; a backup older than 30 days goes, a younger one stays.
    (The runbook's plain `pg_dump > backup.sql` cannot pass its own pg_restore check.)"""
    two_days = cluster.backups / "backup_20250101.dump"
    ancient = cluster.backups / "backup_20241101.dump"
    for path, days in ((two_days, 2), (ancient, 40)):
        path.write_bytes(b"old")
        age(path, days * 86400)
    cluster.env(monkeypatch)
    agent = pack_agent(tmp_path / "agent", "eventchain", receiver)
    agent.write_policy(
        "eventchain.yaml",
        pack_policies(
            "eventchain",
            ["eventchain-backup-stale"],
            replace={"/var/backups/eventchain": str(cluster.backups)},
            override={"eventchain-backup-stale": FAST},
        ),
    )
    agent.run_until("verify.healed", what="the heal", timeout=60)

    today = cluster.backups / f"backup_{time.strftime('%Y%m%d')}.dump"
    assert today.exists() and two_days.exists() and not ancient.exists()
    assert not list(cluster.backups.glob("*.part"))
    listing = subprocess.run(
        [PG_RESTORE, "--list", str(today)], capture_output=True, text=True, check=True
    ).stdout
    assert "TABLE DATA public events" in listing
    # The runbook's own format fails the runbook's own check.
    plain = tmp_path / "plain.sql"
    with plain.open("w") as out:
        subprocess.run(
            [PG_DUMP, "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
             "eventchain_prod"], stdout=out, check=True,
        )  # fmt: skip
    refused = subprocess.run(
        [PG_RESTORE, "--list", str(plain)], check=False, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "text format" in refused.stderr
    assert receiver.received == []


def test_expiring_certificate_is_renewed_for_real_and_nginx_reloaded(
    site: Site, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """5 days left on the served certificate -> certbot renew (not --dry-run) via pebble,
    nginx -s reload -> verify reads the new certificate from nginx."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", f"{site.root}/pebble-api.pem")
    server = f"--server=https://127.0.0.1:{site.acme_port}/dir"
    register = ["--agree-tos", "--register-unsafely-without-email", server]
    webroot = ["--webroot", "-w", f"{site.root}/webroot", "-d", DOMAIN]
    run(site.certbot("certonly", *register, *webroot), dict(os.environ))
    aged = age_lineage(site, days_left=5)
    site.write_nginx_conf(tls=True)
    run(site.nginx("-s", "reload"))
    wait_until(
        lambda: site.served() == aged, "nginx serving the aged cert", site.root / "error.log"
    )

    agent = pack_agent(site.root / "agent", "eventchain", receiver)
    agent.write_policy(
        "eventchain.yaml",
        pack_policies(
            "eventchain",
            ["eventchain-cert-expiring"],
            replace={
                "port: 443, sni: eventchain.com": f"port: {site.tls_port}, sni: {DOMAIN}",
                "[certbot, renew, --non-interactive, --no-random-sleep-on-renew]": json.dumps(
                    site.certbot("renew", "--no-random-sleep-on-renew")
                ),
                "[nginx, -s, reload]": json.dumps(site.nginx("-s", "reload")),
            },
            override={"eventchain-cert-expiring": {**FAST, "verify.after": "2s"}},
        ),
    )
    agent.run_until("verify.healed", what="the heal", timeout=150)

    steps = [e["details"]["type"] for e in agent.events("action.succeeded")]
    assert steps == ["command", "command"]
    (fired,) = agent.events("incident.fired")
    assert 4.9 < fired["values"]["days_left"] < 5.1
    (healed,) = agent.events("verify.healed")
    assert healed["values"]["days_left"] > 30
    assert (site.live / "cert.pem").resolve().name == "cert2.pem"  # certbot made version 2
    assert site.served() != aged
    assert receiver.received == []


class StubApp(StubServer):
    """The application's /metrics: http_requests_total by status, 200 requests a second,
    of which ``errors_per_second`` answer 500."""

    def __init__(self) -> None:
        self.counts = {"200": 0.0, "500": 0.0}
        self.errors_per_second = 0.0
        self.done = threading.Event()
        super().__init__(self.metrics)
        self.target = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._traffic, daemon=True).start()

    def metrics(self, _request: Request) -> Reply:
        lines = ["# TYPE http_requests_total counter"]
        lines += [
            f'http_requests_total{{status="{status}"}} {count}'
            for status, count in self.counts.items()
        ]
        return Reply.text("\n".join(lines) + "\n", "text/plain; version=0.0.4")

    def _traffic(self) -> None:
        while not self.done.wait(0.1):
            self.counts["500"] += self.errors_per_second / 10
            self.counts["200"] += (200 - self.errors_per_second) / 10

    def close(self) -> None:
        self.done.set()
        super().close()


@pytest.fixture
def app_and_prometheus(tmp_path: Path) -> Iterator[tuple[StubApp, Service]]:
    """The stub application, scraped every second by a real Prometheus."""
    app = StubApp()
    (tmp_path / "prometheus").mkdir()
    prometheus = start_prometheus(tmp_path / "prometheus", {"eventchain": [app.target]})
    try:
        wait_for_series(prometheus, "rate(http_requests_total[10s])")
        yield app, prometheus
    finally:
        prometheus.stop()
        app.close()


def test_five_percent_errors_page_p0_through_prometheus(
    app_and_prometheus: tuple[StubApp, Service], receiver: Receiver, tmp_path: Path
) -> None:
    """10 of 200 requests a second answering 500 (5 %) -> the share over the window stays
    above 1 % for the whole `for:` -> one P0 page to on-call; the P2 target policy
    (0.1 % to 1 %), which the share climbs through on the way, pages nobody."""
    app, prometheus = app_and_prometheus
    agent = pack_agent(tmp_path / "agent", "eventchain", receiver)
    agent.write_policy(
        "eventchain.yaml",
        pack_policies(
            "eventchain",
            ["eventchain-error-rate-high", "eventchain-error-rate-above-target"],
            replace={"[5m]": "[10s]", "http://localhost:9090": prometheus.url},
            override={
                "eventchain-error-rate-high": {"probe.every": "1s", "for": "10s"},
                "eventchain-error-rate-above-target": {"probe.every": "1s", "for": "10s"},
            },
        ),
    )
    try:
        agent.start()
        agent.wait_for(lambda: bool(agent.events("policy.loaded")), what="policy.loaded")
        time.sleep(3)  # healthy traffic first: nothing fires
        assert agent.events("incident.detected") == []
        app.errors_per_second = 10
        agent.wait_for(lambda: bool(receiver.received), what="the page", timeout=40)
    finally:
        agent.stop()

    (page,) = receiver.received
    assert page["to"] == "oncall"
    body = page["body"]
    assert (body["policy"], body["reason"], body["severity"]) == (
        "eventchain-error-rate-high",
        "no_remediation",
        "critical",
    )
    assert body["values"]["value"] > 0.01
    assert {e["policy"] for e in agent.events("incident.fired")} == {"eventchain-error-rate-high"}


def test_new_sudoers_file_pages_p1_until_it_is_gone(tmp_path: Path, receiver: Receiver) -> None:
    """A file dropped into sudoers.d after the baseline -> eventchain-sudoers-changed
    pages oncall (P1); removing it clears the incident."""
    sudoers = tmp_path / "sudoers.d"
    sudoers.mkdir()
    (sudoers / "10-admins").write_text("%admin ALL=(ALL) ALL\n")
    agent = pack_agent(tmp_path / "agent", "eventchain", receiver)
    agent.write_policy(
        "eventchain.yaml",
        pack_policies(
            "eventchain",
            ["eventchain-sudoers-changed"],
            replace={"/etc/sudoers.d/*": f"{sudoers}/*"},
            override={"eventchain-sudoers-changed": {"probe.every": "1s"}},
        ),
    )
    baseline = tmp_path / "agent" / "state" / "probes"
    try:
        agent.start()
        agent.wait_for(
            lambda: any(baseline.glob("file.integrity-*.json")), what="the baseline", timeout=30
        )
        agent.wait_for(lambda: bool(agent.events("policy.loaded")), what="policy.loaded")
        time.sleep(1.5)  # one more run on the baseline: no incident
        assert agent.events("incident.detected") == []
        (sudoers / "90-backdoor").write_text("intruder ALL=(ALL) NOPASSWD: ALL\n")
        agent.wait_for(lambda: bool(agent.events("incident.escalated")), what="the page")
        (sudoers / "90-backdoor").unlink()
        agent.wait_for(lambda: bool(agent.events("incident.cleared")), what="the clear")
    finally:
        agent.stop()

    (fired,) = agent.events("incident.fired")
    assert fired["target"] == str(sudoers / "90-backdoor")
    assert fired["values"]["changed"] is True
    (escalated,) = agent.events("incident.escalated")
    assert escalated["details"]["reason"] == "no_remediation"
    assert [r["to"] for r in receiver.received][:1] == ["oncall"]
