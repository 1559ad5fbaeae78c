"""`make run` shape: no API token configured anywhere. The agent makes one in its state
directory (0600) and the CLI on the same host finds it through --config; a CLI that has
no token is told which side is missing it and how to fix that."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AgentProcess]:
    """A running agent on loopback whose config names no token (as medic.yaml)."""
    monkeypatch.delenv("MEDIC_API_TOKEN", raising=False)
    a = AgentProcess(tmp_path / "agent")
    a.start()
    a.wait_for(lambda: _api_up(a), what="the API")
    yield a
    a.stop()


def _api_up(agent: AgentProcess) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{agent.port}/health", timeout=2):
            return True
    except OSError:
        return False


def medic(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MEDIC_API_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "medic", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**env, "USER": "tester"},
        check=False,
    )


SILENCE = ("silence", "add", "--policy", "web-*", "--duration", "1m", "--reason", "try it")


def test_the_cli_on_the_host_uses_the_token_the_agent_made(agent: AgentProcess) -> None:
    """With --config, `medic silence add` works at once against an agent with no token
    configured; the token file is private to the agent's user."""
    token = agent.root / "state" / "api.token"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    done = medic(agent.root, *SILENCE, "--config", str(agent.config))
    assert done.returncode == 0, done.stderr
    agent.wait_for(lambda: bool(agent.events("silence.created")), what="silence.created")
    assert agent.events("silence.created")[0]["details"]["reason"] == "try it"


def test_a_cli_without_a_token_is_told_how_to_find_it(agent: AgentProcess, tmp_path: Path) -> None:
    """Without --config and away from the state directory the CLI has no token: the
    message says the command is the side missing it, and how to give it one."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    url = f"http://127.0.0.1:{agent.port}"
    refused = medic(elsewhere, *SILENCE, "--url", url)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"medic silence add: the agent at {url} answered 401: this request needs a bearer"
        " token and"
        " sent none (this command found no token: none ($MEDIC_API_TOKEN is unset, no"
        " readable .medic/api.token); on the agent's host pass --config with the agent's"
        " config file, which reads the token it names or the one in its state_dir; else set"
        " MEDIC_API_TOKEN or pass --token env:NAME)\n"
    )
