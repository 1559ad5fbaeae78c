"""Window conditions in the real agent: their history survives a restart."""

from __future__ import annotations

import sqlite3
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


def samples(db: Path) -> int:
    """The measurements recorded so far (a row holds a run of steady ones)."""
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT coalesce(sum(count), 0) FROM samples").fetchone()[0])
        except sqlite3.OperationalError:  # the table is not there yet
            return 0


def test_a_window_keeps_its_history_across_a_restart(agent: AgentProcess, tmp_path: Path) -> None:
    """The size seen before a restart is still in the window after it: the change fires."""
    watched = tmp_path / "watched.dat"
    watched.write_bytes(b"x" * 20)
    agent.write_policy(
        "grow.yaml",
        [
            {
                "name": "file-grew",
                "probe": {"type": "file", "path": str(watched), "every": "1s"},
                "when": "changes(size_bytes[20s]) > 0",
            }
        ],
    )
    agent.start()
    agent.wait_for(lambda: samples(agent.db) >= 1, what="the first sample written", timeout=30)
    time.sleep(8)  # eight more, in a run the stop writes
    assert agent.stop() == 0
    assert samples(agent.db) >= 8
    assert "incident.detected" not in agent.kinds()
    watched.write_bytes(b"x" * 30)
    agent.start()
    agent.wait_for(lambda: agent.kinds().count("agent.started") == 2, what="the second start")
    started = time.time()
    agent.wait_for(
        lambda: "incident.detected" in agent.kinds(), what="the change to fire", timeout=40
    )
    (detected,) = agent.events("incident.detected")
    assert detected["values"]["changes(size_bytes[20s])"] == 1
    assert detected["values"]["size_bytes"] == 30
    assert time.time() - started < 25
