"""Two real `medic run` on one state directory: the second stops at once, readers go on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path)
    yield a
    a.stop()


def medic(root: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medic", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )


def test_a_second_agent_on_the_same_state_dir_exits_at_once(agent: AgentProcess) -> None:
    """The second `medic run` exits 1 naming the holder's pid and the lock file; the first
    keeps the only audit chain, which stays intact."""
    agent.start()
    started = time.monotonic()
    second = medic(agent.root, "run", "--config", str(agent.config), "--no-api", timeout=20)
    assert time.monotonic() - started < 15
    lock = agent.root / "state" / "agent.lock"
    assert agent.proc is not None
    assert second.returncode == 1
    assert second.stderr == (
        f"Error: another medic agent (pid {agent.proc.pid}) is running on state dir"
        f" {lock.parent}: it holds {lock}\n"
    )
    assert agent.kinds().count("agent.started") == 1
    assert agent.stop() == 0
    shipped = agent.root / "checkpoints.jsonl"  # what `journalctl | grep` would keep
    lines = [x for x in agent.log.read_text().splitlines() if '"audit.checkpoint"' in x]
    shipped.write_text("\n".join(lines) + "\n")
    last = json.loads(lines[-1])
    assert last["count"] == len(agent.events())
    verified = medic(
        agent.root, "audit", "verify", "--config", str(agent.config), "--checkpoints", str(shipped)
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # A checkpoint of an empty log (count 0, logged at start) vouches for nothing.
    vouching = [x for x in lines if json.loads(x)["count"] > 0]
    assert verified.stdout.endswith(f"; {len(vouching)} checkpoint(s) match\n")


def test_readers_work_beside_a_running_agent(agent: AgentProcess) -> None:
    """audit list/show/verify/export/checkpoint and status never take the agent's lock."""
    agent.start()
    cfg = str(agent.config)
    for args in (
        ("audit", "list", "--config", cfg),
        ("audit", "verify", "--config", cfg),
        ("audit", "export", "--config", cfg),
        ("audit", "checkpoint", "--config", cfg),
        ("audit", "incidents", "--config", cfg),
        ("status", "--url", f"http://127.0.0.1:{agent.port}"),
    ):
        result = medic(agent.root, *args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    shown = medic(agent.root, "audit", "show", "nope", "--config", cfg)
    assert shown.stderr == f"Error: no incident 'nope' in {agent.db}\n"
    assert agent.proc is not None and agent.proc.poll() is None
