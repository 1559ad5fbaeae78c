"""The XAI pack (policies/xai/) end to end on a real systemd: Medic installed in the node
container the documented way and started by `systemctl start medic`, a real Prometheus
(the host's binary) as the unit `prometheus` on :9091, and the node ``xai-node`` as a
small Python stub unit that exposes ``blockchain_height`` and ``network_peers``.

What differs from the shipped files (tests/packs/conftest.py does the copy): probes run
every second, the 30-minute block-height window is 5 seconds (`[30m]`, `offset 30m` in
the query), and ``verify.after`` is 3 to 12 seconds (the block-height check's 12 s: a
node restarted under load must be up and scraped for a whole window before the height
can be seen rising again, else the series is stale and the query empty). The stub
logs a timeout line to the real journal when /var/lib/xai/slow appears. Pages go to a
stub webhook receiver unit in the node, which writes each one to a file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from kit.packs import FAST, notifiers_of, pack_policies
from kit.systemd_node import docker_cli

if TYPE_CHECKING:
    from kit.systemd_node import Node

pytestmark = pytest.mark.integration

STUB_NODE = """\
import http.server, os, threading, time
state = "/var/lib/xai"
os.makedirs(state, exist_ok=True)
try:
    os.remove(state + "/stall")  # a restart gets a stalled node moving again
except FileNotFoundError:
    pass
try:
    height = int(open(state + "/height").read())
except (OSError, ValueError):
    height = 100
def grow():
    global height
    while True:
        time.sleep(0.5)
        if not os.path.exists(state + "/stall"):
            height += 1
            open(state + "/height", "w").write(str(height))
        if os.path.exists(state + "/slow"):  # a line for the journal, as a slow node logs
            os.remove(state + "/slow")
            print("GET /api/v1/blockchain/info: request timeout after 30s", flush=True)
threading.Thread(target=grow, daemon=True).start()
class Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            peers = int(open(state + "/peers").read())
        except (OSError, ValueError):
            peers = 8
        body = (f"# TYPE blockchain_height gauge\\nblockchain_height {height}\\n"
                f"# TYPE network_peers gauge\\nnetwork_peers {peers}\\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 9100), Metrics).serve_forever()
"""
RECEIVER = """\
import http.server, os, time
os.makedirs("/var/lib/receiver", exist_ok=True)
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        name = f"/var/lib/receiver/{time.time_ns()}-{self.path.strip('/')}.json"
        open(name, "wb").write(body)
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 9999), Hook).serve_forever()
"""
PROMETHEUS_YML = """\
global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: xai-node
    static_configs: [{targets: ["127.0.0.1:9100"]}]
"""
UNITS = {
    "xai-node.service": "[Service]\nExecStart=/usr/bin/python3 /opt/xai/stub.py\n",
    "prometheus.service": (
        "[Service]\nExecStart=/usr/local/bin/prometheus --config.file=/etc/xai/prometheus.yml"
        " --storage.tsdb.path=/var/lib/xai-prometheus --web.listen-address=127.0.0.1:9091\n"
    ),
    "xai-receiver.service": "[Service]\nExecStart=/usr/bin/python3 /opt/xai/receiver.py\n",
}
CONFIG = {
    "dry_run": False,
    "state_dir": "/var/lib/medic",
    "policies": ["/etc/medic/policies"],
    "watch": False,
    "log": {"format": "json", "level": "info"},
    "notifiers": notifiers_of("xai", "http://127.0.0.1:9999"),
}
POLICIES = pack_policies(
    "xai",
    ["xai-node-down", "xai-block-height-stalled", "xai-peers-low", "xai-node-journal-errors"],
    replace={"[30m]": "[5s]", "offset 30m": "offset 5s"},
    override={
        "xai-node-down": FAST,
        "xai-block-height-stalled": {**FAST, "verify.after": "12s", "limits.cooldown": "0s"},
        "xai-peers-low": FAST,
        "xai-node-journal-errors": {"probe.every": "1s"},
    },
)


def events(node: Node, policy: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The policy's audit events in the node (`medic audit list`), oldest first."""
    out = node.run(
        "medic", "audit", "list", "--db", "/var/lib/medic/audit.db", "--format", "jsonl",
        "--limit", "1000000", "--policy", policy,
    ).stdout  # fmt: skip
    found = sorted((json.loads(line) for line in out.splitlines() if line.strip()),
                   key=lambda e: e["id"])  # fmt: skip
    return [e for e in found if kind is None or e["kind"] == kind]


def pages(node: Node) -> list[tuple[str, dict[str, Any]]]:
    """(notifier, body) of every page the stub receiver got, oldest first."""
    out = node.sh(
        "for f in $(ls /var/lib/receiver | sort); do echo $f; cat /var/lib/receiver/$f; echo; done"
    )
    lines = [line for line in out.splitlines() if line.strip()]
    return [
        (name.split("-", 1)[1].removesuffix(".json"), json.loads(body))
        for name, body in zip(lines[::2], lines[1::2], strict=True)
    ]


@pytest.fixture(scope="module")
def xai(node: Node) -> Iterator[Node]:
    """The node with the stub units, a real Prometheus on :9091 and Medic on the XAI pack."""
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is not installed; run scripts/provision-prometheus.sh"
    subprocess.run(
        [docker_cli(), "cp", prometheus, f"{node.name}:/usr/local/bin/prometheus"], check=True
    )
    node.run("mkdir", "-p", "/opt/xai", "/etc/xai", "/var/lib/xai")
    node.write("/opt/xai/stub.py", STUB_NODE)
    node.write("/opt/xai/receiver.py", RECEIVER)
    node.write("/etc/xai/prometheus.yml", PROMETHEUS_YML)
    for name, body in UNITS.items():
        node.add_unit(name, body)
        node.run("systemctl", "start", name)
    node.wait_for(
        lambda: (
            "blockchain_height"
            in node.sh(
                "curl -s 'http://127.0.0.1:9091/api/v1/query?query=blockchain_height offset 5s'"
                ' || python3 -c "import urllib.request,urllib.parse;print(urllib.request.urlopen('
                "'http://127.0.0.1:9091/api/v1/query?query='+urllib.parse.quote("
                "'blockchain_height offset 5s')).read().decode())\"",
                check=False,
            )
        ),
        what="Prometheus to hold 5 seconds of blockchain_height",
        timeout=60,
    )
    node.write("/etc/medic/medic.yaml", json.dumps(CONFIG), mode="0640")
    node.run("rm", "-rf", "/etc/medic/policies")
    node.run("mkdir", "-p", "/etc/medic/policies")
    node.write("/etc/medic/policies/xai.yaml", POLICIES)
    node.run("medic", "validate", "--config", "/etc/medic/medic.yaml")
    node.run("systemctl", "restart", "medic", timeout=120)
    yield node
    node.run("systemctl", "stop", "medic", *UNITS, check=False, timeout=60)


def test_killed_node_unit_is_started_by_the_pack(xai: Node) -> None:
    """SIGKILL to xai-node (no Restart=): xai-node-down resets and starts it, verified."""
    old = int(xai.show("xai-node.service")["MainPID"])
    xai.run("systemctl", "kill", "-s", "KILL", "xai-node.service")
    xai.wait_for(lambda: events(xai, "xai-node-down", "verify.healed"), what="the heal")
    steps = [e["details"]["type"] for e in events(xai, "xai-node-down", "action.started")]
    assert steps == ["systemd.reset_failed", "systemd.start"]
    props = xai.show("xai-node.service")
    assert props["ActiveState"] == "active" and int(props["MainPID"]) != old


def test_flat_block_height_restarts_the_node(xai: Node) -> None:
    """blockchain_height flat in Prometheus for the window -> systemctl restart xai-node,
    and the height rising again verifies it."""
    old = int(xai.show("xai-node.service")["MainPID"])
    xai.run("touch", "/var/lib/xai/stall")
    xai.wait_for(
        lambda: events(xai, "xai-block-height-stalled", "verify.healed"),
        what="the stalled node to be restarted and move again",
        timeout=60,
    )
    fired = events(xai, "xai-block-height-stalled", "incident.fired")[0]
    assert fired["values"]["value"] <= 0
    (started,) = events(xai, "xai-block-height-stalled", "action.started")
    assert started["details"]["type"] == "systemd.restart"
    assert int(xai.show("xai-node.service")["MainPID"]) != old
    assert events(xai, "xai-block-height-stalled", "incident.escalated") == []


def test_fewer_than_three_peers_pages_oncall(xai: Node) -> None:
    """network_peers 2 -> xai-peers-low pages `oncall` (the receiver), severity warning."""
    xai.write("/var/lib/xai/peers", "2")
    xai.wait_for(
        lambda: [p for p in pages(xai) if p[1].get("policy") == "xai-peers-low"],
        what="the page to reach the receiver",
        timeout=30,
    )
    ((to, body),) = [p for p in pages(xai) if p[1].get("policy") == "xai-peers-low"]
    assert to == "oncall"
    assert body["values"]["value"] == 2
    assert body["reason"] == "no_remediation"
    xai.write("/var/lib/xai/peers", "8")


def test_timeout_line_in_the_node_journal_pages_oncall(xai: Node) -> None:
    """xai-node logs "request timeout" to the real journal -> xai-node-journal-errors (the
    runbook's journalctl grep) pages `oncall` with that line."""
    xai.write("/var/lib/xai/slow", "")
    xai.wait_for(
        lambda: [p for p in pages(xai) if p[1].get("policy") == "xai-node-journal-errors"],
        what="the journal page to reach the receiver",
        timeout=30,
    )
    ((to, body),) = [p for p in pages(xai) if p[1].get("policy") == "xai-node-journal-errors"]
    assert to == "oncall"
    assert body["values"]["match_count"] >= 1
    assert "request timeout after 30s" in body["values"]["last_match"]
