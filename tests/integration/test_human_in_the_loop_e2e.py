"""The real agent with people in the loop: approval over the CLI, a silence, a dependency."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kit.agent_harness import AgentProcess
from kit.human_loop import agent_fixture, api_up, flag_policy, medic  # noqa: F401  (the agent fixture)

pytestmark = pytest.mark.integration


def of(agent: AgentProcess, kind: str, policy: str) -> list[dict[str, Any]]:
    return [e for e in agent.events(kind) if e["policy"] == policy]


def test_approval_asked_then_granted_over_the_cli(agent: AgentProcess, tmp_path: Path) -> None:
    """The policy asks and waits; `medic approve` against the API lets it act, and the
    audit says who approved."""
    flag = tmp_path / "failover-needed"
    flag.write_text("x")
    agent.write_policy(
        "approval.yaml",
        [flag_policy("db-failover", flag, approval={"required": True, "timeout": "5m"})],
    )
    agent.start()
    agent.wait_for(lambda: bool(agent.events("approval.requested")), what="approval.requested")
    (asked,) = agent.events("approval.requested")
    incident = asked["incident"]
    escalated = agent.events("incident.escalated")
    assert [e["details"]["reason"] for e in escalated] == ["approval_required"]
    assert f"medic approve {incident}" in escalated[0]["details"]["summary"]
    assert agent.events("action.started") == [] and flag.exists()

    done = medic(agent, "approve", incident, "--by", "alice", "--comment", "go ahead")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"incident {incident} (db-failover on {flag}): granted by alice")
    agent.wait_for(lambda: bool(agent.events("verify.healed")), what="verify.healed")
    (granted,) = agent.events("approval.granted")
    assert granted["incident"] == incident
    assert granted["details"] == {"by": "alice", "comment": "go ahead"}
    assert not flag.exists()
    kinds = [e["kind"] for e in agent.events() if e["incident"] == incident]
    assert kinds.index("approval.granted") < kinds.index("action.started")

    again = medic(agent, "approve", incident)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        f"medic approve: the agent at http://127.0.0.1:{agent.port} answered 409: incident"
        f" {incident} is no longer waiting: "
        "it was already granted by alice"
    )


def test_ad_hoc_silence_suppresses_and_pages_nobody(agent: AgentProcess, tmp_path: Path) -> None:
    """`medic silence add` on a policy: it detects, is suppressed as silenced, acts not,
    and nothing is escalated."""
    flag = tmp_path / "web-broken"
    agent.write_policy(
        "web.yaml", [flag_policy("web-restart", flag, escalate={"after_failures": 1})]
    )
    agent.start()
    agent.wait_for(lambda: api_up(agent), what="the API")
    added = medic(
        agent, "silence", "add", "--policy", "web-*", "--duration", "1m",
        "--reason", "test", "--author", "me",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("silence ")
    assert "policy=web-* until " in added.stdout and "(no actions, no pages)" in added.stdout
    flag.write_text("x")
    agent.wait_for(
        lambda: bool(of(agent, "action.suppressed", "web-restart")), what="action.suppressed"
    )
    (suppressed,) = of(agent, "action.suppressed", "web-restart")
    assert suppressed["outcome"] == "silenced"
    assert suppressed["details"]["author"] == "me"
    assert suppressed["details"]["reason"] == "test"
    (created,) = agent.events("silence.created")
    assert created["details"]["author"] == "me"
    listed = medic(agent, "silence", "list")
    assert listed.returncode == 0, listed.stderr
    assert "policy=web-*" in listed.stdout and "me" in listed.stdout
    assert agent.events("action.started") == []
    assert agent.events("incident.escalated") == []
    assert flag.exists()


def test_dependency_inhibits_while_its_cause_fires(agent: AgentProcess, tmp_path: Path) -> None:
    """B depends on A: while A fires, B is suppressed as inhibited with A named; A pages,
    B does not; once A is healed, B acts."""
    db_flag, app_flag = tmp_path / "db-down", tmp_path / "app-down"
    db_flag.write_text("x")
    agent.write_policy(
        "deps.yaml",
        [
            {
                "name": "database-down",
                "probe": {"type": "file", "path": str(db_flag), "every": "1s"},
                "when": "exists",
            },
            flag_policy("app-down", app_flag, depends_on=["database-down"]),
        ],
    )
    agent.start()
    agent.wait_for(
        lambda: bool(of(agent, "incident.fired", "database-down")), what="database-down fires"
    )
    app_flag.write_text("x")
    agent.wait_for(
        lambda: bool(of(agent, "action.suppressed", "app-down")), what="app-down inhibited"
    )
    (suppressed,) = of(agent, "action.suppressed", "app-down")
    assert suppressed["outcome"] == "inhibited"
    assert suppressed["details"]["cause"] == "database-down"
    assert suppressed["details"]["cause_targets"] == [str(db_flag)]
    assert [e["policy"] for e in agent.events("incident.escalated")] == ["database-down"]
    assert of(agent, "action.started", "app-down") == []
    db_flag.unlink()
    agent.wait_for(
        lambda: bool(of(agent, "verify.healed", "app-down")), what="app-down acts and heals"
    )
