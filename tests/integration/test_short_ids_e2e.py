"""Short ids, as `medic audit show` takes them, in `approve`, `ack` and `silence expire`."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.agent_harness import AgentProcess
from kit.human_loop import agent_fixture, api_up, flag_policy, medic  # noqa: F401  (the agent fixture)

pytestmark = pytest.mark.integration


def test_approve_and_ack_take_a_unique_prefix(agent: AgentProcess, tmp_path: Path) -> None:
    """`medic ack 5f0c` and `medic approve 5f0c` act on the one incident starting so."""
    flag = tmp_path / "failover-needed"
    flag.write_text("x")
    agent.write_policy(
        "approval.yaml",
        [flag_policy("db-failover", flag, approval={"required": True, "timeout": "5m"})],
    )
    agent.start()
    agent.wait_for(lambda: bool(agent.events("approval.requested")), what="approval.requested")
    incident = agent.events("approval.requested")[0]["incident"]
    short = incident[:6]

    acked = medic(agent, "ack", short, "--by", "bob")
    assert acked.returncode == 0, acked.stderr
    assert acked.stdout.strip() == (
        f"incident {incident} (db-failover on {flag}): acknowledged by bob"
    )
    done = medic(agent, "approve", short, "--by", "alice")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"incident {incident} (db-failover on {flag}): granted by alice"
    agent.wait_for(lambda: bool(agent.events("verify.healed")), what="verify.healed")
    (ack,) = agent.events("incident.acknowledged")
    assert (ack["incident"], ack["details"]) == (incident, {"by": "bob", "via": "api"})


def test_silence_expire_takes_a_unique_prefix(agent: AgentProcess) -> None:
    """`medic silence expire <prefix>` ends the one silence whose id starts so."""
    agent.start()
    agent.wait_for(lambda: api_up(agent), what="the API")
    added = medic(
        agent, "silence", "add", "--policy", "web-*", "--duration", "1h", "--reason", "r",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    silence = added.stdout.split()[1].rstrip(":")
    ended = medic(agent, "silence", "expire", silence[:5])
    assert ended.returncode == 0, ended.stderr
    assert ended.stdout.startswith(f"silence {silence} ended at ")


def test_an_unknown_prefix_is_a_clear_error(agent: AgentProcess) -> None:
    """A prefix of no incident is the agent's 404, naming what was given."""
    agent.start()
    agent.wait_for(lambda: api_up(agent), what="the API")
    refused = medic(agent, "approve", "zz")
    assert refused.returncode == 1
    assert "no approval was requested for incident 'zz'" in refused.stderr
