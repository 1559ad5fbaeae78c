"""Real `medic run` agents in one fleet, for the fleet end-to-end tests: each with its own
state dir, a distinct host name, a fault file the test controls, and a policy that
heals the fault (logging when its action started and ended) under a fleet budget."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from kit.agent_harness import AgentProcess, spawn_agent


def fleet_agent(
    root: Path,
    host: str,
    endpoints: list[str],
    actions_log: Path,
    *,
    budget: dict[str, Any],
    sleep: float = 0.1,
    extra: dict[str, Any] | None = None,
) -> AgentProcess:
    """An agent (not started) whose policy removes ``root/fault`` under ``budget``."""
    agent = AgentProcess(root / host)
    agent.config.write_text(
        yaml.safe_dump(
            {
                "host": host,
                "state_dir": "state",
                "policies": ["policies"],
                "watch": False,
                "api": {"enabled": False},
                "log": {"format": "json", "level": "info"},
                "limits": {
                    "max_concurrent_actions": 4,
                    "circuit_breaker": {"max_actions": 1000, "per": 60},
                },
                "fleet": {
                    "etcd": endpoints,
                    "groups": ["test-nodes"],
                    "lease_ttl": 3,
                    "heartbeat": 1,
                    **(extra or {}),
                },
            }
        )
    )
    fault = agent.root / "fault"
    script = (
        f's=$(date +%s.%N); sleep {sleep}; echo "$s $(date +%s.%N) $MEDIC_HOST" >> {actions_log}; '
        f"rm -f {fault}"
    )
    agent.write_policy(
        "fault.yaml",
        [
            {
                "name": "fault",
                "probe": {"type": "file", "path": str(fault), "every": "250ms"},
                "when": "exists",
                "remediate": [{"command": {"shell": script, "timeout": "60s"}}],
                "verify": {"after": "200ms"},
                "limits": {"max": 1000, "per": "1h", "cooldown": "0s"},
                "fleet_budget": budget,
            }
        ],
    )
    return agent


def start_all(agents: list[AgentProcess]) -> None:
    """Start every agent at once, then wait until each has written agent.started."""
    for agent in agents:
        agent.proc = spawn_agent(agent.config, agent.root, agent.log)
    for agent in agents:
        agent.wait_for(lambda a=agent: "agent.started" in a.kinds(), what="start", timeout=90)


def intervals(actions_log: Path) -> list[tuple[float, float, str]]:
    if not actions_log.exists():
        return []
    out = []
    for line in actions_log.read_text().splitlines():
        start, end, host = line.split()
        out.append((float(start), float(end), host))
    return out


def most_at_once(spans: list[tuple[float, float, str]]) -> int:
    """The largest number of actions running at the same instant."""
    edges = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans])
    best = now = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def wait_until(check: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
