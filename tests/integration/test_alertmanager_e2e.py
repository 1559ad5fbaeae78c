"""A real Prometheus alert drives a remediation through a real Alertmanager, and resolves.

Prometheus and Alertmanager come from Debian (scripts/provision-alertmanager.sh, which
runs scripts/provision-prometheus.sh too) and are started here on free ports with their
configs under tmp. The "broken service" is a tiny HTTP stub in a thread serving
``demo_broken 1`` until a file exists; the policy's remediation creates that file. The
story: rule fires -> Alertmanager posts (bearer token from a credentials_file) -> Medic
remediates -> Prometheus stops firing -> Alertmanager posts the resolve -> healed.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kit.agent_harness import AgentProcess
from kit.http_stub import Reply, Request, StubServer
from kit.ports import free_port
from kit.promstack import Service, StackError, http_get

pytestmark = pytest.mark.integration

PROVISION = "scripts/provision-alertmanager.sh"
TOKEN = "am-webhook-token-e2e"
POLICY = "demo-broken-alert"


class DemoExporter(StubServer):
    """Serves ``demo_broken 1`` until ``fixed`` exists, then ``demo_broken 0``."""

    def __init__(self, fixed: Path) -> None:
        self.fixed = fixed
        super().__init__(self.metrics)
        self.address = f"127.0.0.1:{self.port}"

    def metrics(self, _request: Request) -> Reply:
        broken = 0 if self.fixed.exists() else 1
        return Reply.text(f"# TYPE demo_broken gauge\ndemo_broken {broken}\n")


def start(name: str, argv: list[str], port: int, workdir: Path) -> Service:
    """Start a Debian program in its own session; return once /-/ready answers."""
    binary = shutil.which(argv[0])
    if binary is None:
        pytest.fail(f"{argv[0]} is not installed; run {PROVISION} as root", pytrace=False)
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, *argv[1:]], stdout=out, stderr=out, cwd=workdir, start_new_session=True
        )
    service = Service(name, proc, f"http://127.0.0.1:{port}", log)
    try:
        service.wait_until(lambda: http_get(service.url + "/-/ready")[0] == 200, "ready")
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)
    return service


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AgentProcess]:
    """The real agent with an API token, so Alertmanager's POST is authenticated."""
    monkeypatch.setenv("MEDIC_API_TOKEN", TOKEN)
    a = AgentProcess(tmp_path / "agent")
    config = yaml.safe_load(a.config.read_text())
    config["api"]["token"] = {"env": "MEDIC_API_TOKEN"}
    a.config.write_text(yaml.safe_dump(config))
    yield a
    a.stop()


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[DemoExporter]:
    node = DemoExporter(tmp_path / "fixed")
    yield node
    node.close()


@pytest.fixture
def alertmanager(tmp_path: Path, agent: AgentProcess) -> Iterator[Service]:
    """Alertmanager posting every change of DemoBroken to the agent at once."""
    workdir = tmp_path / "alertmanager"
    workdir.mkdir()
    token_file = workdir / "medic-token"
    token_file.write_text(TOKEN + "\n")
    config = {
        "route": {
            "receiver": "medic",
            "group_by": ["alertname"],
            "group_wait": "0s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "medic",
                "webhook_configs": [
                    {
                        "url": f"http://127.0.0.1:{agent.port}/api/v1/alertmanager",
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
                        },
                    }
                ],
            }
        ],
    }
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        "prometheus-alertmanager",
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip port: tests must not share one
    ]
    service = start("alertmanager", argv, port, workdir)
    yield service
    service.stop()


@pytest.fixture
def prometheus(tmp_path: Path, exporter: DemoExporter, alertmanager: Service) -> Iterator[Service]:
    """Prometheus scraping the exporter and evaluating DemoBroken every second."""
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    rules = {
        "groups": [
            {
                "name": "demo",
                "interval": "1s",
                "rules": [
                    {
                        "alert": "DemoBroken",
                        "expr": "demo_broken == 1",
                        "for": "0s",
                        "labels": {"severity": "page"},
                        "annotations": {"summary": "the demo service is broken"},
                    }
                ],
            }
        ]
    }
    (workdir / "rules.yml").write_text(yaml.safe_dump(rules))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(workdir / "rules.yml")],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [alertmanager.url.removeprefix("http://")]}]}
            ]
        },
        "scrape_configs": [
            {"job_name": "demo", "static_configs": [{"targets": [exporter.address]}]}
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [
        "prometheus",
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
    ]
    service = start("prometheus", argv, port, workdir)
    yield service
    service.stop()


def test_firing_alert_is_remediated_and_heals_when_it_resolves(
    agent: AgentProcess, exporter: DemoExporter, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """DemoBroken fires, Alertmanager posts, Medic fixes it, the resolve heals the incident."""
    agent.write_policy(
        "alerts.yaml",
        [
            {
                "name": POLICY,
                "description": "Fix the demo service when Prometheus says it is broken.",
                "probe": {"type": "alertmanager", "alertname": "DemoBroken", "every": "30s"},
                "when": "firing",
                "remediate": [{"command": {"argv": ["touch", str(exporter.fixed)]}}],
                "verify": {"after": "8s"},
                "limits": {"max": 3, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    agent.start()
    request.getfixturevalue("prometheus")  # starts Alertmanager, then Prometheus
    agent.wait_for(lambda: bool(agent.events("action.started")), what="action.started", timeout=60)
    agent.wait_for(lambda: bool(agent.events("verify.healed")), what="verify.healed", timeout=45)

    story = [e for e in agent.events() if e["policy"] == POLICY and e["incident"]]
    assert [e["kind"] for e in story] == [
        "incident.detected",
        "incident.fired",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    assert len({e["incident"] for e in story}) == 1
    assert exporter.fixed.exists()  # the remediation ran for real
    fired = story[1]
    assert fired["target"].startswith('DemoBroken{instance="' + exporter.address)
    assert fired["values"]["labels"]["severity"] == "page"
    assert fired["values"]["summary"] == "the demo service is broken"
    # The alert's fingerprint is kept in the incident: every event of it carries it.
    fingerprint = fired["values"]["fingerprint"]
    assert len(fingerprint) == 16 and int(fingerprint, 16) >= 0
    assert all(e["values"]["fingerprint"] == fingerprint for e in story)
    healed = story[-1]["values"]
    assert (healed["firing"], healed["status"]) == (False, "resolved")
    assert healed["ends_at"] is not None
