"""A real agent with people in the loop: its API token, the real `medic` CLI pointed at
it, and a policy that fires while a flag file exists (the human-in-the-loop and short-id
end-to-end tests share them)."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.agent_harness import AgentProcess

TOKEN = "e2e-human-token"


@pytest.fixture(name="agent")
def agent_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AgentProcess]:
    """An agent (started by the test) whose API token comes from MEDIC_API_TOKEN."""
    monkeypatch.setenv("MEDIC_API_TOKEN", TOKEN)
    a = AgentProcess(tmp_path)
    yield a
    a.stop()


def api_up(agent: AgentProcess) -> bool:
    """The agent's API answers /health (it starts after the policies load)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{agent.port}/health", timeout=2):
            return True
    except OSError:
        return False


def medic(agent: AgentProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `medic` CLI against the agent's API, with the token in the environment."""
    return subprocess.run(
        [sys.executable, "-m", "medic", *args, "--url", f"http://127.0.0.1:{agent.port}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MEDIC_API_TOKEN": TOKEN, "USER": "tester"},
        check=False,
    )


def flag_policy(name: str, flag: Path, **extra: Any) -> dict[str, Any]:
    """A policy that fires while ``flag`` exists and heals by removing it."""
    return {
        "name": name,
        "probe": {"type": "file", "path": str(flag), "every": "1s"},
        "when": "exists",
        "remediate": [{"command": {"argv": ["rm", "-f", str(flag)], "timeout": "10s"}}],
        "verify": {"after": "1s"},
        "limits": {"max": 3, "per": "1h", "cooldown": "0s"},
        **extra,
    }
