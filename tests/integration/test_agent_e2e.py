"""The real agent, as a user runs it: real processes, real signals, a real audit DB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration


def sleepers(marker: str) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmd = p.info["cmdline"] or []
        if marker in cmd and p.info["status"] != psutil.STATUS_ZOMBIE and "setsid" not in cmd[0]:
            found.append(p)
    return found


def start_sleeper(marker: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(3600)", marker], start_new_session=True
    )


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path)
    yield a
    a.stop()


@pytest.fixture
def marker() -> Iterator[str]:
    m = f"medic-e2e-{uuid.uuid4().hex[:8]}"
    yield m
    for p in sleepers(m):
        p.kill()


def test_killed_process_is_brought_back_and_verified(agent: AgentProcess, marker: str) -> None:
    """A watched process killed by hand is restarted by policy, verified and audited in order."""
    first = start_sleeper(marker)
    agent.write_policy(
        "proc.yaml",
        [
            {
                "name": "sleeper-down",
                "probe": {"type": "process", "cmdline": marker, "every": "30s"},
                "when": "not running",
                "remediate": [
                    {
                        "command": {
                            "argv": [
                                "setsid",
                                "-f",
                                sys.executable,
                                "-c",
                                "import time; time.sleep(3600)",
                                marker,
                            ],
                            "timeout": "10s",
                        }
                    }
                ],
                "verify": {"after": "1s"},
                "limits": {"max": 3, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    agent.start()
    agent.wait_for(lambda: "policy.loaded" in agent.kinds(), what="policy.loaded")
    time.sleep(2.5)  # the first poll (jittered up to 2 s) has seen the process running
    first.kill()
    first.wait()
    # The interval is 30 s: only the pidfd notices the death this fast.
    agent.wait_for(
        lambda: len(sleepers(marker)) == 1, what="the process to be restarted", timeout=10
    )
    agent.wait_for(lambda: "verify.healed" in agent.kinds(), what="verify.healed")
    story = [e["kind"] for e in agent.events() if e["policy"] == "sleeper-down" and e["incident"]]
    assert story == [
        "incident.detected",
        "incident.fired",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    incidents = {e["incident"] for e in agent.events() if e["incident"]}
    assert len(incidents) == 1


def test_hung_check_and_hung_action_are_killed_at_their_timeouts(
    agent: AgentProcess, marker: str
) -> None:
    """A check that never returns and an action that never ends are killed, with their children."""
    agent.write_policy(
        "hung.yaml",
        [
            {
                "name": "hung-check",
                "probe": {
                    "type": "command",
                    "argv": ["sh", "-c", f"sleep 60 # {marker}"],
                    "every": "1s",
                    "timeout": "500ms",
                },
                "when": "status != 'ok'",
                "remediate": [
                    {"command": {"argv": ["sh", "-c", f"sleep 61 # {marker}"], "timeout": "1s"}}
                ],
                "verify": {"after": "1s"},
                "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
            },
        ],
    )
    agent.start()
    agent.wait_for(lambda: "action.timed_out" in agent.kinds(), what="action.timed_out")
    timed_out = agent.events("action.timed_out")[0]
    assert timed_out["policy"] == "hung-check"
    assert timed_out["details"]["timed_out"] is True
    checks = [e for e in agent.events("action.started") if e["policy"] == "hung-check"]
    assert checks[0]["values"]["timed_out"] is True  # the check itself reported its timeout
    assert agent.stop() == 0  # a check may be in flight right now: stopping kills it too
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if any(marker in part for part in (p.info["cmdline"] or []))
    ]
    assert leftovers == []


def test_sighup_reload_keeps_policies_of_a_broken_file(agent: AgentProcess) -> None:
    """A broken edit is rejected with its file and line; the previous version keeps running."""
    good = [
        {
            "name": "disk-check",
            "probe": {"type": "host.disk", "every": "1s"},
            "when": "percent > 101",
            "remediate": [{"command": {"argv": ["true"]}}],
        }
    ]
    path = agent.write_policy("disk.yaml", good)
    agent.start()
    agent.wait_for(lambda: len(agent.events("policy.loaded")) == 1, what="policy.loaded")
    path.write_text(
        "version: 1\npolicies:\n  - name: disk-check\n    probe: {type: host.dsk}\n"
        "    when: percent > 101\n"
    )
    agent.write_policy(
        "new.yaml",
        [{"name": "mem-check", "probe": {"type": "host.memory"}, "when": "percent > 101"}],
    )
    agent.signal(signal.SIGHUP)
    agent.wait_for(lambda: bool(agent.events("policy.rejected")), what="policy.rejected")
    rejected = agent.events("policy.rejected")[0]["details"]
    assert rejected["kept_previous"] is True
    assert rejected["errors"][0].startswith(f"{path}:4:")
    assert "unknown probe type 'host.dsk'" in rejected["errors"][0]
    agent.wait_for(
        lambda: any(e["policy"] == "mem-check" for e in agent.events("policy.loaded")),
        what="the new file's policy",
    )
    removed = agent.events("policy.removed")
    assert removed == []  # disk-check is still running from the last good version
    assert agent.proc is not None and agent.proc.poll() is None


def test_a_dependent_waits_for_its_cause_to_be_measured_at_start(
    agent: AgentProcess, tmp_path: Path
) -> None:
    """Started during maintenance: the dependent never acts before the maintenance check
    has measured once (its first measurement takes 2 s here), then stays held."""
    maintenance, problem, acted = tmp_path / "down", tmp_path / "problem", tmp_path / "acted"
    maintenance.write_text("x")
    problem.write_text("x")
    agent.write_policy(
        "deps.yaml",
        [
            {
                "name": "maintenance-mode",
                "probe": {
                    "type": "command",
                    "argv": ["sh", "-c", f"sleep 2; test -e {maintenance}"],
                    "every": "1s",
                    "timeout": "5s",
                },
                "when": "ok",
            },
            {
                "name": "fix-it",
                "probe": {"type": "file", "path": str(problem), "every": "1s"},
                "when": "exists",
                "depends_on": ["maintenance-mode"],
                "remediate": [{"command": {"argv": ["touch", str(acted)], "timeout": "5s"}}],
            },
        ],
    )
    agent.start()
    agent.wait_for(
        lambda: any(e["policy"] == "maintenance-mode" for e in agent.events("incident.fired")),
        what="the maintenance policy firing",
    )
    time.sleep(1.5)
    assert not acted.exists()
    held = [e for e in agent.events("action.suppressed") if e["policy"] == "fix-it"]
    assert held and held[0]["details"]["reason"] == "inhibited"
    assert held[0]["details"]["cause"] == "maintenance-mode"


def test_sighup_is_logged_and_a_fixed_file_is_accepted_again(agent: AgentProcess) -> None:
    """SIGHUP logs the request; the reload is audited with what changed; a fixed file says so."""
    good = [{"name": "mem-check", "probe": {"type": "host.memory"}, "when": "percent > 101"}]
    path = agent.write_policy("mem.yaml", good)
    agent.start()
    agent.wait_for(lambda: len(agent.events("policy.loaded")) == 1, what="policy.loaded")
    path.write_text("version: 1\npolicies:\n  - name: mem-check\n    probe: {type: host.mem}\n")
    agent.signal(signal.SIGHUP)
    agent.wait_for(lambda: bool(agent.events("policy.rejected")), what="policy.rejected")
    agent.write_policy("mem.yaml", [{**good[0], "when": "percent > 102"}])
    agent.signal(signal.SIGHUP)
    agent.wait_for(lambda: bool(agent.events("policy.accepted")), what="policy.accepted")
    accepted = agent.events("policy.accepted")[0]["details"]
    assert accepted == {"file": str(path), "policies": ["mem-check"]}
    reloads = [e["details"] for e in agent.events("agent.reloaded")]
    assert [r["trigger"] for r in reloads] == ["signal", "signal"]
    assert reloads[0]["rejected"] == [str(path)] and reloads[0]["changed"] == []
    assert reloads[1]["changed"] == ["mem-check"] and reloads[1]["rejected"] == []
    logged = agent.log.read_text(encoding="utf-8")
    assert logged.count('"reload.requested"') == 2 and '"trigger": "signal"' in logged


def test_sigkill_mid_action_leaves_it_interrupted_and_limits_hold(
    agent: AgentProcess, marker: str, tmp_path: Path
) -> None:
    """Killed during an action, the agent marks it interrupted on restart and does not act again."""
    missing = tmp_path / "never-there"
    agent.write_policy(
        "slow.yaml",
        [
            {
                "name": "slow-fix",
                "probe": {"type": "file", "path": str(missing), "every": "1s"},
                "when": "not exists",
                "remediate": [
                    {"command": {"argv": ["sh", "-c", f"sleep 30 # {marker}"], "timeout": "60s"}}
                ],
                "verify": {"after": "1s"},
                "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
            }
        ],
    )
    agent.start()
    agent.wait_for(lambda: bool(agent.events("action.started")), what="action.started")
    started = agent.events("action.started")[0]
    agent.kill9()
    for p in psutil.process_iter(["cmdline"]):  # the orphaned action; its group died with it
        if any(marker in part for part in (p.info["cmdline"] or [])):
            os.killpg(p.pid, signal.SIGKILL)
    agent.start()
    agent.wait_for(lambda: bool(agent.events("action.interrupted")), what="action.interrupted")
    interrupted = agent.events("action.interrupted")
    assert len(interrupted) == 1
    assert interrupted[0]["action"] == started["action"]
    agent.wait_for(
        lambda: any(e["outcome"] == "rate_limit" for e in agent.events("action.suppressed")),
        what="a rate-limit suppression",
    )
    assert len(agent.events("action.started")) == 1  # the limit survived the restart


def test_a_changed_policy_file_is_reloaded_without_a_signal(tmp_path: Path) -> None:
    """With `watch: true`, a new file and a broken edit are noticed on their own."""
    agent = AgentProcess(tmp_path, watch=True)
    first = agent.write_policy(
        "one.yaml",
        [{"name": "one", "probe": {"type": "host.load", "every": "1s"}, "when": "load1 < 0"}],
    )
    try:
        agent.start()
        agent.wait_for(lambda: len(agent.events("policy.loaded")) == 1, what="the first policy")
        agent.write_policy(
            "two.yaml",
            [{"name": "two", "probe": {"type": "host.load", "every": "1s"}, "when": "load1 < 0"}],
        )
        agent.wait_for(
            lambda: any(e["policy"] == "two" for e in agent.events("policy.loaded")),
            what="the new file's policy, loaded by the file watcher",
        )
        first.write_text("version: 1\npolicies:\n  - name: one\n    when: load1 < 0\n")
        agent.wait_for(lambda: bool(agent.events("policy.rejected")), what="the broken edit")
    finally:
        agent.stop()
    rejected = agent.events("policy.rejected")[0]["details"]
    assert rejected["errors"] == [
        f"{first}:3:5: policy 'one': missing required key 'probe'"
        " (hint: say what to measure, like `probe: {type: host.memory}`)"
    ]
    assert agent.events("policy.removed") == []
