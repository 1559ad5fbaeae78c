"""What a running agent leaves unimported (issue 14: memory): one process policy, the API
on and scraped, the audit log on. Each check starts the real agent in a fresh interpreter."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from kit.ports import free_port

REPO = Path(__file__).resolve().parent.parent

# `medic run` itself, printing its modules as it exits.
AGENT = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), flush=True))
sys.argv = ["medic", "run", "--config", "medic.yaml"]
from medic.cli import main
main()
"""


def _get(port: int, path: str) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
        body: bytes = reply.read()
        return body


def _wait_loaded(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if json.loads(_get(port, "/health"))["policies"] == 1:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("medic run did not load its policy")


@pytest.fixture(scope="module")
def agent_modules(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The modules of `medic run` that ran one process policy and answered its API."""
    root = tmp_path_factory.mktemp("agent-imports")
    port = free_port()
    (root / "policies").mkdir()
    policy = {
        "name": "one-process",
        "probe": {"type": "process", "name": "no-such-program-here", "every": "1s"},
        "when": "not running",
        "remediate": [{"command": {"argv": ["true"]}}],
    }
    (root / "policies" / "p.yaml").write_text(yaml.safe_dump({"version": 1, "policies": [policy]}))
    config = {
        "state_dir": "state",
        "api": {"listen": f"127.0.0.1:{port}"},
        "dry_run": True,
        "log": {"format": "json", "level": "error"},
    }
    (root / "medic.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.Popen(
        [sys.executable, "-c", AGENT], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        _wait_loaded(port, proc)
        time.sleep(1.5)  # a few evaluations: the policy fires (dry-run)
        for path in ("/metrics", "/api/v1/policies"):
            _get(port, path)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    modules = set(json.loads(out.strip().splitlines()[-1]))
    assert "medic.probes.system.process" in modules  # it did run the policy
    return modules


@pytest.mark.integration
@pytest.mark.parametrize(
    "module",
    [
        "jsonschema",  # the config and API bodies pass quick tests; it only words errors
        "referencing",
        "prometheus_client",  # /metrics is written by medic.metric_types
        "statistics",  # the review page's medians, with fractions and decimal
        "decimal",
        "zoneinfo",  # with the first maintenance window or schedule naming a zone
        "medic.probes.network.http",  # probe and action modules no policy names
        "medic.probes.containers.container",
        "medic.actions.container",
    ],
)
def test_a_running_agent_does_not_import(agent_modules: set[str], module: str) -> None:
    """The agent runs, and answers /health, /metrics and its policies, without it."""
    assert module not in agent_modules
