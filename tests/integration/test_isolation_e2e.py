"""A hung probe is cut off at its timeout and never holds back another policy."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def probe_runs(port: int) -> dict[tuple[str, str], float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    runs: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "medic_probe_runs":
            for sample in family.samples:
                if sample.name == "medic_probe_runs_total":
                    runs[(sample.labels["probe"], sample.labels["outcome"])] = sample.value
    return runs


def test_hung_probes_do_not_delay_a_quick_policy(tmp_path: Path, silent_server: int) -> None:
    """Three hung probes time out on their own while a 0.5 s policy keeps its pace."""
    present = tmp_path / "present"
    present.write_text("x")
    agent = AgentProcess(tmp_path)
    agent.write_policy("mixed.yaml", [
        {"name": "hung-http",
         "probe": {"type": "http", "url": f"http://127.0.0.1:{silent_server}/health",
                   "every": "1s", "timeout": "2s"},
         "when": "not ok"},
        {"name": "hung-tls",
         "probe": {"type": "tls.cert", "host": "127.0.0.1", "port": silent_server,
                   "every": "1s", "timeout": "2s"},
         "when": "days_left < 14"},
        {"name": "hung-check",
         "probe": {"type": "command", "argv": ["sleep", "60"], "every": "1s", "timeout": "2s"},
         "when": "status == 'critical'"},
        {"name": "quick",
         "probe": {"type": "file", "path": str(present), "every": "500ms"},
         "when": "not exists"},
    ])  # fmt: skip
    try:
        agent.start()
        agent.wait_for(lambda: len(agent.events("policy.loaded")) == 4, what="policies loaded")
        time.sleep(3)  # past the start-up jitter; every hung probe has started hanging
        before = probe_runs(agent.port)
        window = 6.0
        time.sleep(window)
        after = probe_runs(agent.port)
    finally:
        agent.stop()
    quick = after.get(("file", "ok"), 0) - before.get(("file", "ok"), 0)
    # Every 0.5 s for 6 s is 12 runs; a policy held back by the hung ones would do ~3.
    assert quick >= 10, (before, after)
    # The hung probes did run, and each run ended at its timeout rather than never.
    for kind in ("http", "tls.cert", "command"):
        ran = sum(v for (probe, _), v in after.items() if probe == kind)
        assert ran >= 3, (kind, after)
