"""Fleet budgets against a real 3-member etcd cluster (in-process clients)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kit.etcd import EtcdCluster
from medic.audit.store import AuditStore
from medic.fleet import keys
from medic.fleet.budget import Budgets, capacity
from medic.fleet.client import Etcd
from medic.fleet.member import FleetMember
from medic.fleet.registry import Registration
from medic.fleet.settings import FleetConfig
from medic.policy.model import FleetBudget

pytestmark = pytest.mark.integration
OWNER = {"policy": "p", "target": "t", "incident": "i"}


def test_capacity_is_a_count_or_a_share_of_at_least_one() -> None:
    """A count is the count; a share is of the live members, rounded down, at least 1."""
    assert capacity(FleetBudget("g", max=3), 100) == 3
    assert capacity(FleetBudget("g", max_percent=10.0), 25) == 2
    assert capacity(FleetBudget("g", max_percent=10.0), 3) == 1


@pytest.mark.asyncio
async def test_slots_run_out_at_max_and_come_back_on_release(etcd_cluster: EtcdCluster) -> None:
    """Two slots of a budget of two are taken; the third asker is told it is exhausted."""
    etcd = Etcd(etcd_cluster.endpoints)
    budgets = Budgets(etcd, "h1", lease_ttl=5)
    budget = FleetBudget("nodes", max=2)
    try:
        first = await budgets.acquire(budget, **OWNER)
        second = await budgets.acquire(budget, **OWNER)
        third = await budgets.acquire(budget, **OWNER)
        assert [first.outcome, second.outcome, third.outcome] == ["taken", "taken", "exhausted"]
        assert third.details == {"group": "nodes", "held": 2, "max": 2}
        assert first.slot is not None
        await first.slot.release()
        assert (await budgets.acquire(budget, **OWNER)).outcome == "taken"
    finally:
        await etcd.close()


@pytest.mark.asyncio
async def test_a_share_counts_the_groups_live_members(etcd_cluster: EtcdCluster) -> None:
    """max: 50% of four registered members is two slots."""
    etcd = Etcd(etcd_cluster.endpoints)
    regs = [Registration(etcd, f"h{i}", ["nodes"], 1.0, dict) for i in range(4)]
    try:
        for reg in regs:
            await reg.beat()
        budgets = Budgets(etcd, "h0", lease_ttl=5)
        budget = FleetBudget("nodes", max_percent=50.0)
        outcomes = [(await budgets.acquire(budget, **OWNER)).outcome for _ in range(3)]
        assert outcomes == ["taken", "taken", "exhausted"]
    finally:
        await etcd.close()


@pytest.mark.asyncio
async def test_a_slot_stays_taken_until_its_window_ends(etcd_cluster: EtcdCluster) -> None:
    """With per: 3s, a slot given back after one second is still taken, then frees."""
    etcd = Etcd(etcd_cluster.endpoints)
    budgets = Budgets(etcd, "h1", lease_ttl=5)
    budget = FleetBudget("nodes", max=1, per=3.0)
    try:
        taken = await budgets.acquire(budget, **OWNER)
        assert taken.slot is not None
        await taken.slot.release()
        assert (await budgets.acquire(budget, **OWNER)).outcome == "exhausted"
        late = FleetBudget("nodes", max=1, per=3.0, wait=6.0)
        started = time.monotonic()
        assert (await budgets.acquire(late, **OWNER)).outcome == "taken"
        assert time.monotonic() - started >= 1.0
    finally:
        await etcd.close()


@pytest.mark.asyncio
async def test_an_abandoned_slot_frees_when_its_lease_expires(etcd_cluster: EtcdCluster) -> None:
    """A holder that stops renewing (it died) loses the slot after the lease's TTL."""
    etcd = Etcd(etcd_cluster.endpoints)
    budgets = Budgets(etcd, "h1", lease_ttl=3)
    budget = FleetBudget("nodes", max=1)
    try:
        taken = await budgets.acquire(budget, **OWNER)
        assert taken.slot is not None and taken.slot._renew is not None
        taken.slot._renew.cancel()  # the holder is gone: nobody renews
        assert len(await etcd.get_prefix(keys.slots("nodes"))) == 1
        waiting = FleetBudget("nodes", max=1, wait=8.0)
        assert (await budgets.acquire(waiting, **OWNER)).outcome == "taken"
    finally:
        await etcd.close()


@pytest.mark.asyncio
async def test_budgets_work_with_one_member_down(etcd_cluster: EtcdCluster) -> None:
    """Two members of three are a quorum: slots are still taken and refused correctly."""
    etcd = Etcd(etcd_cluster.endpoints)
    budgets = Budgets(etcd, "h1", lease_ttl=5)
    budget = FleetBudget("nodes", max=1)
    try:
        etcd_cluster.kill(0)
        etcd_cluster.wait_healthy()
        assert (await budgets.acquire(budget, **OWNER)).outcome == "taken"
        assert (await budgets.acquire(budget, **OWNER)).outcome == "exhausted"
    finally:
        await etcd.close()


@pytest.mark.asyncio
async def test_no_quorum_is_unreachable_not_a_slot(etcd_cluster: EtcdCluster) -> None:
    """With two members of three killed, asking for a slot says unreachable (fail closed)."""
    etcd = Etcd(etcd_cluster.endpoints, timeout=1.0)
    budgets = Budgets(etcd, "h1", lease_ttl=5)
    try:
        etcd_cluster.kill(0)
        etcd_cluster.kill(1)
        decision = await asyncio.wait_for(budgets.acquire(FleetBudget("nodes", max=3), **OWNER), 20)
        assert decision.outcome == "unreachable"
        assert decision.slot is None
        assert "no etcd member answered" in decision.details["error"]
    finally:
        await etcd.close()


@pytest.mark.asyncio
async def test_a_clean_stop_gives_held_slots_back_at_once(
    etcd_cluster: EtcdCluster, tmp_path: Path
) -> None:
    """A slot whose remediation was cancelled by the stop is free right after the stop,
    not when its lease (60 s here) expires."""
    audit = AuditStore(tmp_path / "audit.db", host="h1")
    config = FleetConfig(etcd=tuple(etcd_cluster.endpoints), lease_ttl=60.0)
    member = FleetMember(config, "h1", audit)
    other = Etcd(etcd_cluster.endpoints)
    budget = FleetBudget("nodes", max=1)
    try:
        assert member.budgets is not None
        held = await member.budgets.acquire(budget, **OWNER)
        assert held.outcome == "taken"  # the remediation holding it is cancelled: no release
        await member.stop()
        taken = await Budgets(other, "h2", lease_ttl=5).acquire(budget, **OWNER)
        assert taken.outcome == "taken"
        assert member.budgets.held == []
    finally:
        await other.close()
