"""Scheduled jobs and named probes in the real agent (`medic run`)."""

from __future__ import annotations

import json
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


def test_a_job_runs_at_each_occurrence_with_its_finally_step(
    agent: AgentProcess, tmp_path: Path
) -> None:
    """Every 3 s (polling only every 1m): on, a step, then off; a failed run is retried."""
    log, mark = tmp_path / "job.log", tmp_path / "failed-once"
    agent.write_policy(
        "job.yaml",
        [
            {
                "name": "maintenance-job",
                "probe": {"type": "schedule", "interval": "3s", "every": "1m"},
                "when": "due",
                "remediate": [
                    {"command": {"argv": ["/bin/sh", "-c", f"echo on >> {log}"]}},
                    {"command": {"argv": ["/bin/sh", "-c", f"test -e {mark} || ! touch {mark}"]}},
                ],
                "finally": [{"command": {"argv": ["/bin/sh", "-c", f"echo off >> {log}"]}}],
                "verify": {"after": "500ms"},
                "limits": {"max": 20, "per": "1h", "cooldown": "1s"},
            }
        ],
    )
    agent.start()

    def finals() -> list[dict[str, object]]:
        return [e for e in agent.events("action.succeeded") if e["details"].get("finally")]

    agent.wait_for(lambda: len(finals()) >= 3, what="three runs with their finally", timeout=20)
    agent.wait_for(lambda: agent.events("verify.healed"), what="a run verified", timeout=20)
    assert log.read_text().split()[:6] == ["on", "off"] * 3
    assert [e["details"]["step"] for e in agent.events("action.failed")] == [1]
    # The failed run left the job due; a later run cleared it.
    assert next(k for k in agent.kinds() if k.startswith("verify.")) == "verify.not_healed"
    # Woken at the occurrence by the probe, not by the 1m poll: late by well under 1 s.
    firsts = [e for e in agent.events("action.started") if e["details"]["step"] == 0]
    assert all(e["values"]["due"] for e in firsts)
    assert min(e["values"]["late"] for e in firsts[1:]) < 1.0


def test_named_probes_compare_a_target_with_shared_context(
    agent: AgentProcess, tmp_path: Path
) -> None:
    """A copy 90 bytes behind its reference fires, with both probes' fields in the audit."""
    old, ref = tmp_path / "copy", tmp_path / "ref"
    for path, size in ((old, 10), (ref, 100)):
        path.write_bytes(b"x" * size)
    agent.write_policy(
        "named.yaml",
        [
            {
                "name": "behind",
                "probes": {
                    "local": {"type": "file", "path": str(old), "every": "1s"},
                    "network": {"type": "file", "path": str(ref), "every": "1s"},
                },
                "when": "local.size_bytes < network.size_bytes - 10",
            }
        ],
    )
    agent.start()
    agent.wait_for(lambda: agent.events("incident.fired"), what="incident.fired")
    (fired,) = agent.events("incident.fired")
    assert fired["values"]["network"]["size_bytes"] == 100
    assert fired["values"]["local"]["size_bytes"] == 10


def samples(agent: AgentProcess, policy: str) -> list[dict[str, object]]:
    """The rows the agent recorded for ``policy``, oldest first (``measured``: how many
    steady measurements the row stands for)."""
    if not agent.db.exists():
        return []
    conn = sqlite3.connect(f"file:{agent.db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute(
            "select id, count, fields from samples where policy = ? order by id", (policy,)
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()
    return [{**json.loads(row[2]), "id": row[0], "measured": row[1]} for row in rows]


def test_a_job_that_ran_does_not_run_again_when_the_agent_restarts_in_its_window(
    agent: AgentProcess, tmp_path: Path
) -> None:
    """Hourly job run at start; the agent restarted minutes later: it reads not due, no rerun."""
    log = tmp_path / "job.log"
    agent.write_policy(
        "job.yaml",
        [
            {
                "name": "hourly-job",
                "probe": {"type": "schedule", "interval": "1h", "every": "1s"},
                "when": "due",
                "remediate": [{"command": {"argv": ["/bin/sh", "-c", f"echo ran >> {log}"]}}],
                "verify": {"after": "200ms"},
                "limits": {"max": 20, "per": "1h", "cooldown": "1s"},
            }
        ],
    )
    if time.time() % 3600 > 3600 - 60:  # keep the whole test inside one occurrence
        time.sleep(3600 - time.time() % 3600 + 1)
    agent.start()  # the hour's occurrence is in its window: due at once, run once
    agent.wait_for(lambda: agent.events("verify.healed"), what="the job ran and healed")
    agent.wait_for(
        lambda: any(s["due"] is False for s in samples(agent, "hourly-job")),
        what="a reading of the job as done",
    )
    assert agent.stop() == 0
    before = max(int(str(s["id"])) for s in samples(agent, "hourly-job"))
    agent.start()
    agent.wait_for(
        lambda: [s for s in samples(agent, "hourly-job") if int(str(s["id"])) > before],
        what="a reading after the restart",
    )
    time.sleep(2)  # more readings, in a run the stop writes
    assert agent.stop() == 0
    after = [s for s in samples(agent, "hourly-job") if int(str(s["id"])) > before]
    assert sum(int(str(s["measured"])) for s in after) >= 2
    assert all(s["due"] is False for s in after)
    assert log.read_text().split() == ["ran"]
    assert len(agent.events("action.started")) == 1
    assert list((tmp_path / "state" / "probes").glob("schedule-*.json"))
