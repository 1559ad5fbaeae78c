"""The real agent on real metrics: Prometheus and node exporter from Debian, a stalled counter.

Prometheus and the node exporter come from scripts/provision-prometheus.sh and are
started here on free ports (tests/kit/promstack.py); the "blockchain node" is a tiny
HTTP stub in a thread (kit.http_stub) whose block height the test stops and restarts.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kit.agent_harness import AgentProcess
from kit.http_stub import Reply, Request, StubServer
from kit.promstack import (
    NODE_EXPORTER,
    Service,
    StackError,
    start_node_exporter,
    start_prometheus,
    wait_for_series,
)

pytestmark = pytest.mark.integration

# Start the exporter in a session of its own. Popen returns only after the child has
# called setsid() and exec'd, so the action's process-group kill cannot catch it the
# way it can catch `setsid -f`'s child before that child has left the group.
RESTART = (
    "import subprocess, sys; subprocess.Popen(sys.argv[1:], start_new_session=True, "
    "stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
)


class BlockNode(StubServer):
    """An exposition endpoint whose ``block_height`` grows by one per scrape while moving."""

    def __init__(self) -> None:
        self.moving = True
        self.height = 100
        self.scrapes = 0
        super().__init__(self.metrics, "/metrics")

    def metrics(self, _request: Request) -> Reply:
        self.scrapes += 1
        if self.moving:
            self.height += 1
        return Reply.text(f"# TYPE block_height counter\nblock_height {self.height}\n")


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path / "agent")
    yield a
    a.stop()


@pytest.fixture
def block_node() -> Iterator[BlockNode]:
    node = BlockNode()
    yield node
    node.close()


def wait(check: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def incident_story(agent: AgentProcess, policy: str) -> list[str]:
    return [e["kind"] for e in agent.events() if e["policy"] == policy and e["incident"]]


def test_stalled_counter_restarts_the_node_and_heals(
    agent: AgentProcess, block_node: BlockNode, tmp_path: Path
) -> None:
    """No growth for the whole window fires the restart; growth again verifies it healed."""
    restarted = tmp_path / "node-restarted"
    agent.write_policy(
        "node.yaml",
        [
            {
                "name": "block-height-stalled",
                "probe": {
                    "type": "prometheus",
                    "scrape": block_node.url,
                    "metric": "block_height",
                    "window": "2s",
                    "every": "250ms",
                    "timeout": "2s",
                },
                "when": "window_full and increase == 0",
                "remediate": [{"command": {"argv": ["touch", str(restarted)], "timeout": "5s"}}],
                "verify": {"after": "1500ms"},
                "limits": {"max": 2, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    agent.start()
    # A moving counter through more than a whole window: nothing happens.
    wait(lambda: block_node.scrapes >= 12, "three seconds of scrapes of the moving counter")
    assert incident_story(agent, "block-height-stalled") == []
    block_node.moving = False
    wait(restarted.exists, "the restart command", timeout=30)
    block_node.moving = True  # the "restarted" node produces blocks again
    agent.wait_for(lambda: "verify.healed" in agent.kinds(), what="verify.healed")
    assert incident_story(agent, "block-height-stalled") == [
        "incident.detected",
        "incident.fired",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    fired = agent.events("incident.fired")[0]
    assert fired["target"] == "block_height"
    assert fired["values"]["increase"] == 0.0
    assert fired["values"]["window_full"] is True


@pytest.fixture
def node_exporter(tmp_path: Path) -> Iterator[Service]:
    try:
        service = start_node_exporter(tmp_path)
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield service
    service.stop()
    listen = "--web.listen-address=" + service.url.removeprefix("http://")
    for proc in psutil.process_iter(["cmdline"]):
        if listen in (proc.info["cmdline"] or []):
            proc.kill()  # the copy the policy started again


@pytest.fixture
def prometheus(tmp_path: Path, node_exporter: Service) -> Iterator[Service]:
    target = node_exporter.url.removeprefix("http://")
    try:
        service = start_prometheus(tmp_path, {"node": [target]})
        wait_for_series(service, 'up{job="node"} == 1')
    except StackError as exc:
        pytest.fail(str(exc), pytrace=False)
    yield service
    service.stop()


def test_prometheus_query_sees_the_exporter_die_and_come_back(
    agent: AgentProcess, prometheus: Service, node_exporter: Service
) -> None:
    """up{job="node"} turning 0 in a real Prometheus fires a restart that heals it."""
    address = node_exporter.url.removeprefix("http://")
    agent.write_policy(
        "exporter.yaml",
        [
            {
                "name": "node-exporter-down",
                "probe": {
                    "type": "prometheus",
                    "server": prometheus.url,
                    "query": 'up{job="node"}',
                    "every": "500ms",
                },
                "when": "value == 0",
                "remediate": [
                    {
                        "command": {
                            "argv": [
                                sys.executable,
                                "-c",
                                RESTART,
                                NODE_EXPORTER,
                                f"--web.listen-address={address}",
                            ],
                            "timeout": "10s",
                        }
                    }
                ],
                "verify": {"after": "2s"},
                "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    agent.start()
    agent.wait_for(lambda: "policy.loaded" in agent.kinds(), what="policy.loaded")
    time.sleep(1.5)  # a few evaluations with the exporter up: nothing happens
    assert incident_story(agent, "node-exporter-down") == []
    node_exporter.stop()
    agent.wait_for(lambda: "verify.healed" in agent.kinds(), what="verify.healed", timeout=40)
    assert incident_story(agent, "node-exporter-down") == [
        "incident.detected",
        "incident.fired",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    fired = agent.events("incident.fired")[0]
    assert fired["target"] == f'up{{instance="{address}",job="node"}}'
    assert fired["values"] == {"value": 0.0, "labels": {"instance": address, "job": "node"}}
