"""The real agent's /metrics counts its targets by state and its open incidents."""

from __future__ import annotations

import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration

NONE = {
    "ok": 0.0,
    "pending": 0.0,
    "firing": 0.0,
    "awaiting_approval": 0.0,
    "remediating": 0.0,
    "verifying": 0.0,
}


def scrape(agent: AgentProcess) -> tuple[dict[str, float], float | None]:
    """medic_targets by state and medic_incidents_open, read over HTTP."""
    url = f"http://127.0.0.1:{agent.port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    targets = {s.labels["state"]: s.value for s in families["medic_targets"].samples}
    incidents = families["medic_incidents_open"].samples
    return targets, incidents[0].value if incidents else None


def file_policy(name: str, path: Path, **rest: Any) -> dict[str, Any]:
    """A policy that fires while ``path`` does not exist, read twice a second."""
    return {
        "name": name,
        "probe": {"type": "file", "path": str(path), "every": "500ms"},
        "when": "not exists",
        **rest,
    }


def test_an_incident_reads_open_until_it_heals(tmp_path: Path) -> None:
    """A firing target being verified shows verifying 1, one incident open; healed, ok 1 and 0."""
    missing = tmp_path / "missing"
    agent = AgentProcess(tmp_path)
    agent.write_policy("heal.yaml", [file_policy(
        "heal-me", missing,
        remediate=[{"command": {"argv": ["touch", str(missing)], "timeout": "5s"}}],
        verify={"after": "4s"},
        limits={"max": 3, "per": "1h", "cooldown": "0s"},
    )])  # fmt: skip
    try:
        agent.start()
        agent.wait_for(
            lambda: scrape(agent)[0].get("verifying") == 1, what="medic_targets verifying 1"
        )
        assert scrape(agent) == ({**NONE, "verifying": 1}, 1)
        agent.wait_for(lambda: bool(agent.events("verify.healed")), what="verify.healed")
        assert scrape(agent) == ({**NONE, "ok": 1}, 0)
    finally:
        agent.stop()


def test_a_reload_leaves_no_stale_state_behind(tmp_path: Path) -> None:
    """Pending and firing targets counted; their policies reloaded away, those states read 0."""
    present = tmp_path / "present"
    present.write_text("x")
    agent = AgentProcess(tmp_path)
    fine = file_policy("fine", present)
    agent.write_policy("mixed.yaml", [
        fine,
        file_policy("alert-only", tmp_path / "gone"),
        {**file_policy("holding", tmp_path / "also-gone"), "for": "1h"},
    ])  # fmt: skip
    try:
        agent.start()
        agent.wait_for(
            lambda: scrape(agent) == ({**NONE, "ok": 1, "pending": 1, "firing": 1}, 2),
            what="one target ok, one pending, one firing, two incidents open",
        )
        agent.write_policy("mixed.yaml", [fine])
        agent.signal(signal.SIGHUP)
        agent.wait_for(
            lambda: len(agent.events("policy.removed")) == 2, what="two policies removed"
        )
        assert scrape(agent) == ({**NONE, "ok": 1}, 0)
    finally:
        agent.stop()
