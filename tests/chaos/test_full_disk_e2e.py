"""A real agent whose audit log sits on a real 2 MiB tmpfs that fills up, then frees.

Full: the killed target is not restarted (no intent, no action), /health is 503 with
the reason, the sd_notify status says it, and the webhook hears one page, sent
directly. Freed: Medic heals by itself and restarts the target; the audit records
the outage.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.chaos_harness import ChaosAgent, Sleeper
from kit.http_stub import Reply, Request, StubServer
from kit.ports import free_port
from kit.small_disk import SmallDisk, small_disk

pytestmark = pytest.mark.integration


class Hook(StubServer):
    """A local webhook receiver keeping every JSON body posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        super().__init__(self.keep, "/hook")

    def keep(self, request: Request) -> Reply:
        self.bodies.append(request.json())
        return Reply()

    def reasons(self) -> list[tuple[str, str]]:
        return [(b["kind"], b["reason"]) for b in self.bodies]


def health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        url = f"http://127.0.0.1:{port}/health"
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk", "2m") as d:
        yield d


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


@pytest.fixture
def sleeper() -> Iterator[Sleeper]:
    s = Sleeper(f"medic-disk-{uuid.uuid4().hex[:8]}")
    yield s
    s.kill_everything()


def test_full_disk_stops_acting_alarms_once_and_heals_when_space_returns(
    tmp_path: Path, disk: SmallDisk, hook: Hook, sleeper: Sleeper
) -> None:
    """No intent, no action; one direct page; /health and STATUS say why; heals by itself."""
    port = free_port()
    policy = {
        "name": "sleeper-down",
        "probe": {"type": "process", "cmdline": sleeper.tag, "every": "1s"},
        "when": "not running",
        "remediate": [{"command": {"argv": sleeper.restart_argv(0), "timeout": "10s"}}],
        "verify": {"after": "1s"},
        "limits": {"max": 3, "per": "1h", "cooldown": "0s"},
    }
    config = {
        "state_dir": str(disk.root),
        "api": {"listen": f"127.0.0.1:{port}"},
        "notifiers": {"oncall": {"type": "webhook", "url": hook.url}},
    }
    agent = ChaosAgent(tmp_path / "agent", config, [policy])
    try:
        sleeper.start()
        agent.start()
        agent.wait_ready()
        time.sleep(1.5)  # the first poll has seen the sleeper running
        assert health(port)[0] == 200
        disk.fill()
        sleeper.kill()
        wait_for(lambda: health(port)[0] == 503, "/health to turn unhealthy")
        _, body = health(port)
        assert body["status"] == "unhealthy"
        assert "cannot be written: database or disk is full" in body["reason"]
        agent.messages(1.0)
        assert any(s.startswith("UNHEALTHY: the audit log") for s in agent.statuses)
        wait_for(lambda: hook.reasons() == [("escalation", "audit_unwritable")], "the page")
        time.sleep(3.0)  # several evaluations while full: none acts, none pages again
        assert sleeper.pids() == []
        assert hook.reasons() == [("escalation", "audit_unwritable")]
        disk.free()
        wait_for(lambda: len(sleeper.pids()) == 1, "the sleeper to be restarted")
        wait_for(lambda: health(port)[0] == 200, "/health to turn healthy")
        agent.messages(0.5)
        assert not agent.statuses[-1].startswith("UNHEALTHY"), agent.statuses
        wait_for(lambda: len(hook.bodies) == 2, "the resolve")
        assert hook.reasons()[1] == ("resolve", "audit_unwritable")
        agent.stop()
        kinds = [e["kind"] for e in agent.events()]
        assert kinds.count("audit.recovered") == 1
        assert kinds.index("audit.recovered") < kinds.index("action.started")
        assert kinds.count("action.started") == 1
        (recovered,) = agent.events("audit.recovered")
        assert recovered["details"]["error"] == "database or disk is full"
    finally:
        agent.close()
