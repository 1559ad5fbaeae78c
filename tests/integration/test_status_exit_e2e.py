"""`medic status` exit codes against a real agent process: 0 healthy, 1 needs a human."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration


def status(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medic", "status", "--config", str(agent.config), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=agent.root,
    )


def test_status_exit_codes_follow_escalations_and_rejected_files(tmp_path: Path) -> None:
    """0 while healthy; 1 with an open escalated incident (only for the policies named)
    and with a rejected policy file; the reasons are on stderr."""
    flag = tmp_path / "flag"
    agent = AgentProcess(tmp_path / "agent")
    policy = {"probe": {"type": "file", "path": str(flag), "every": "1s"}, "when": "exists"}
    agent.write_policy(
        "p.yaml",
        [
            {"name": "disk-alarm", **policy, "escalate": {"notify": []}},
            {"name": "web-ok", "probe": {"type": "file", "path": str(tmp_path)}, "when": "false"},
        ],
    )
    agent.start()
    try:
        healthy = status(agent)
        assert healthy.returncode == 0, healthy.stderr
        assert "disk-alarm" in healthy.stdout
        flag.write_text("x")
        agent.wait_for(lambda: bool(agent.events("incident.escalated")), what="the escalation")
        escalated = status(agent)
        assert escalated.returncode == 1, escalated.stdout
        assert "medic status: disk-alarm on " in escalated.stderr
        assert "escalated, incident" in escalated.stderr
        assert status(agent, "web-*").returncode == 0
        assert status(agent, "disk-*").returncode == 1
        missing = status(agent, "nope")
        assert missing.returncode == 1
        assert missing.stderr == "medic status: no loaded policy matches 'nope'\n"
        flag.unlink()
        agent.wait_for(lambda: status(agent).returncode == 0, what="healthy again")
        agent.write_policy("broken.yaml", "version: 1\npolicies: [{name: x}]\n")
        agent.signal(1)  # SIGHUP: reload
        agent.wait_for(lambda: status(agent).returncode == 1, what="the rejected file")
        assert "policy file " in status(agent).stderr
    finally:
        agent.stop()


def test_status_without_an_agent_exits_2(tmp_path: Path) -> None:
    """No agent answering at the config's address: exit status 2, not 1."""
    agent = AgentProcess(tmp_path / "agent")  # configured, never started
    done = status(agent)
    assert done.returncode == 2
    assert "no agent answering at http://127.0.0.1:" in done.stderr
