"""A taken API port, with the real ``medic run``: one clear line, no start recorded."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration


def kinds(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return [row[0] for row in conn.execute("select kind from events order by id")]


def test_a_taken_port_is_one_line_and_no_agent_started(tmp_path: Path) -> None:
    """medic run on a port another process holds exits 1 with one line naming the address,
    'already in use' and api.listen; the audit log records no agent.started, so no start
    is left without its agent.stopped, and no policy ran."""
    flag = tmp_path / "acted"
    (tmp_path / "policies").mkdir()
    policy = {
        "name": "would-act",
        "probe": {"type": "file", "path": str(tmp_path / "missing"), "every": "1h"},
        "when": "not exists",
        "remediate": [{"command": {"argv": ["touch", str(flag)], "timeout": "5s"}}],
    }
    (tmp_path / "policies" / "p.yaml").write_text(
        yaml.safe_dump({"version": 1, "policies": [policy]})
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "medic.yaml"
        config.write_text(
            yaml.safe_dump(
                {"state_dir": "state", "watch": False, "api": {"listen": f"127.0.0.1:{port}"}}
            )
        )
        result = subprocess.run(
            [sys.executable, "-m", "medic", "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            check=False,
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {config}: the API address 127.0.0.1:{port} is already in use (is another "
        "medic running?) (hint: change api.listen in the agent config or pass --listen; or "
        "set api.enabled: false)"
    )
    assert "agent.started" not in kinds(tmp_path / "state" / "audit.db")
    assert not flag.exists()


def test_the_api_answers_once_agent_started_is_recorded(tmp_path: Path) -> None:
    """agent.started is written only after the API listens: /health answers at once."""
    agent = AgentProcess(tmp_path)
    agent.start()  # returns as soon as agent.started is in the audit log
    try:
        url = f"http://127.0.0.1:{agent.port}/health"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
    finally:
        assert agent.stop() == 0
    assert kinds(agent.db)[-1] == "agent.stopped"
