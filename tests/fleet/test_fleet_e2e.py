"""Real agents (`medic run` processes) against a real 3-member etcd cluster."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kit.etcd import EtcdCluster
from kit.fleet_agents import fleet_agent, intervals, most_at_once, start_all, wait_until
from medic.cli import main
from medic.fleet import keys
from medic.fleet.client import Etcd
from medic.fleet.view import fleet_status

pytestmark = pytest.mark.integration

AGENTS = 20
FAULTS_EACH = 10
BUDGET = 3


@pytest.mark.timeout(240)
def test_twenty_agents_never_exceed_a_budget_of_three(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    """20 agents heal 200 faults under max: 3; never more than 3 act at once."""
    log = tmp_path / "actions.log"
    budget = {"group": "test-nodes", "max": BUDGET, "wait": "60s"}
    agents = [
        fleet_agent(tmp_path, f"node-{i:02d}", etcd_cluster.endpoints, log, budget=budget)
        for i in range(AGENTS)
    ]
    left = dict.fromkeys(range(AGENTS), FAULTS_EACH)
    gone_since: dict[int, float] = {}
    try:
        start_all(agents)
        deadline = time.monotonic() + 180
        while len(intervals(log)) < AGENTS * FAULTS_EACH:
            assert time.monotonic() < deadline, f"only {len(intervals(log))} actions ran"
            now = time.monotonic()
            for i, agent in enumerate(agents):
                fault = agent.root / "fault"
                if left[i] == 0 or fault.exists():
                    gone_since.pop(i, None)
                    continue
                # A new fault once the last one was seen healed (verify.after is 200ms).
                if now - gone_since.setdefault(i, now) >= 0.5 or left[i] == FAULTS_EACH:
                    fault.touch()
                    left[i] -= 1
                    gone_since.pop(i, None)
            time.sleep(0.05)
        spans = intervals(log)
        assert len(spans) == AGENTS * FAULTS_EACH
        assert most_at_once(spans) <= BUDGET
        assert most_at_once(spans) == BUDGET  # the budget was the limit, not luck
        taken = sum(len(a.events("fleet.slot_taken")) for a in agents)
        assert taken == AGENTS * FAULTS_EACH
    finally:
        for agent in agents:
            agent.stop()


def test_a_killed_holder_frees_its_slot_when_the_lease_expires(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    """kill -9 an agent holding the only slot: it frees within the lease TTL, and the
    other agent then takes it and acts."""
    log = tmp_path / "actions.log"
    budget = {"group": "test-nodes", "max": 1, "wait": "30s"}
    holder = fleet_agent(tmp_path, "holder", etcd_cluster.endpoints, log, budget=budget, sleep=60)
    other = fleet_agent(tmp_path, "other", etcd_cluster.endpoints, log, budget=budget)
    try:
        start_all([holder, other])
        (holder.root / "fault").touch()
        holder.wait_for(lambda: bool(holder.events("action.started")), what="holder acting")
        (other.root / "fault").touch()
        time.sleep(1)  # the other agent now waits for the slot
        assert other.events("action.started") == []
        holder.kill9()
        killed = time.monotonic()
        other.wait_for(lambda: bool(other.events("action.succeeded")), what="other", timeout=30)
        assert time.monotonic() - killed <= 3 + 5  # lease_ttl 3s, plus polling and a heal
        assert [h for _, _, h in intervals(log)] == ["other"]
    finally:
        holder.stop()
        other.stop()


def test_without_quorum_agents_fail_closed_and_escalate(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    """Two members of three killed: the agent does not act, audits why, escalates once."""
    log = tmp_path / "actions.log"
    budget = {"group": "test-nodes", "max": 3}
    agent = fleet_agent(tmp_path, "lonely", etcd_cluster.endpoints, log, budget=budget)
    try:
        start_all([agent])
        etcd_cluster.kill(0)
        etcd_cluster.kill(1)
        (agent.root / "fault").touch()
        agent.wait_for(lambda: len(agent.events("fleet.unreachable")) >= 2, what="unreachable")
        suppressed = agent.events("action.suppressed")
        assert suppressed and suppressed[0]["details"]["reason"] == "fleet_unreachable"
        escalated = agent.events("incident.escalated")
        assert len(escalated) == 1
        assert escalated[0]["details"]["reason"] == "suppressed:fleet_unreachable"
        assert agent.events("action.started") == []
        assert intervals(log) == []
    finally:
        agent.stop()


def test_fail_open_policies_act_without_etcd(etcd_cluster: EtcdCluster, tmp_path: Path) -> None:
    """on_unreachable: act: with no quorum the agent acts anyway and audits fail_open."""
    log = tmp_path / "actions.log"
    budget = {"group": "test-nodes", "max": 3, "on_unreachable": "act"}
    agent = fleet_agent(tmp_path, "brave", etcd_cluster.endpoints, log, budget=budget)
    try:
        start_all([agent])
        etcd_cluster.kill(0)
        etcd_cluster.kill(1)
        (agent.root / "fault").touch()
        agent.wait_for(lambda: bool(agent.events("action.succeeded")), what="acted", timeout=30)
        assert agent.events("fleet.unreachable")[0]["outcome"] == "fail_open"
    finally:
        agent.stop()


async def _read(endpoints: list[str], what: str) -> Any:
    """The fleet status, or the live agents' records, through a client of its own."""
    etcd = Etcd(endpoints)
    try:
        if what == "status":
            return await fleet_status(etcd, time.time())
        return [json.loads(kv.value) for kv in await etcd.get_prefix(keys.agents())]
    finally:
        await etcd.close()


def test_fleet_view_lists_agents_drift_and_silence(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    """Agents register; one with another policy set drifts; a killed one goes silent."""
    log = tmp_path / "actions.log"
    budget = {"group": "test-nodes", "max": 3}
    agents = [
        fleet_agent(tmp_path, f"view-{i}", etcd_cluster.endpoints, log, budget=budget)
        for i in range(3)
    ]
    same = [{"name": "same", "probe": {"type": "file", "path": "/nonexistent"}, "when": "exists"}]
    for agent in agents:
        agent.write_policy("fault.yaml", same)
    agents[2].write_policy("extra.yaml", [{**same[0], "name": "extra"}])
    try:
        start_all(agents)

        def status() -> dict[str, Any]:
            found: dict[str, Any] = asyncio.run(_read(etcd_cluster.endpoints, "status"))
            return found

        def live() -> list[str]:
            return sorted(r["host"] for r in asyncio.run(_read(etcd_cluster.endpoints, "live")))

        wait_until(lambda: len(status()["agents"]) == 3, "3 agents", 20)
        assert status()["drift"] == ["view-2"]
        urls = [arg for url in etcd_cluster.endpoints for arg in ("--etcd", url)]
        shown = CliRunner().invoke(main, ["fleet", "status", *urls])
        assert shown.exit_code == 0, shown.output
        assert "view-2" in shown.output and "drift: view-2" in shown.output
        incidents = CliRunner().invoke(main, ["fleet", "incidents", *urls])
        assert incidents.output.strip() == "no open incidents in the fleet"
        agents[0].kill9()
        wait_until(lambda: status()["silent"] == ["view-0"], "silent view-0", 20)
        wait_until(lambda: live() == ["view-1", "view-2"], "view-0's lease to end", 20)
    finally:
        for agent in agents:
            agent.stop()
