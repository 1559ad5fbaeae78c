"""Fleet disruption budgets: at most N agents of a group acting at once (and per window).

A budget is a semaphore of N numbered slot keys in etcd. Taking a slot is one
transaction, "put slot i under my lease if slot i does not exist", so two agents can
never hold the same slot, and no more than N slots exist. N is the budget's count, or
its share of the group's live members (at least 1). The holder keeps its lease alive
while it acts and verifies; an agent that dies stops renewing, the lease expires, and
etcd deletes the slot. A budget with ``per`` keeps each slot taken until ``per`` has
passed since it was taken, so no more than N actions start in any window of ``per``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from medic.errors import FleetError
from medic.fleet import keys
from medic.fleet.client import Etcd, absent, put_op, unchanged
from medic.policy.model import FleetBudget

log = structlog.get_logger("medic.fleet")

# How often a waiting agent looks for a free slot again (plus up to as much jitter).
POLL = 0.2


def capacity(budget: FleetBudget, members: int) -> int:
    """How many slots the budget has for a group of ``members`` live agents."""
    if budget.max_percent is None:
        return budget.max if budget.max is not None else 1
    return max(1, int(members * budget.max_percent / 100))


@dataclass(eq=False)
class Slot:
    """A slot held under a lease that :meth:`start` keeps alive until :meth:`release`."""

    etcd: Etcd
    key: str
    value: str
    lease: int
    ttl: float
    per: float
    taken_at: float = field(default_factory=time.time)
    # Called once the slot is given back (the agent's list of slots it holds).
    on_release: Callable[[Slot], None] | None = None
    _renew: asyncio.Task[None] | None = None
    _released: bool = False

    def start(self) -> None:
        self._renew = asyncio.get_running_loop().create_task(self._keep())

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                if not await self.etcd.keepalive(self.lease):
                    log.warning("fleet.slot_lost", key=self.key)
                    return
            except FleetError as exc:  # renewing again later may still be in time
                log.warning("fleet.slot_renew_failed", key=self.key, error=exc.message)

    async def release(self) -> None:
        """Give the slot back; with ``per``, hand it to a lease that ends with the window.
        Giving back twice is a no-op (the timer after verification may come after stop)."""
        if self._released:
            return
        self._released = True
        if self.on_release is not None:
            self.on_release(self)
        if self._renew is not None:
            self._renew.cancel()
        remaining = self.taken_at + self.per - time.time()
        try:
            if remaining >= 1:
                held = await self.etcd.get(self.key)
                if held is not None and held.lease == self.lease:
                    rest = await self.etcd.grant(remaining)
                    await self.etcd.txn(
                        [unchanged(self.key, held.mod_revision)],
                        [put_op(self.key, self.value, rest)],
                    )
            await self.etcd.revoke(self.lease)
        except FleetError as exc:  # the lease expires on its own
            log.warning("fleet.slot_release_failed", key=self.key, error=exc.message)


@dataclass(frozen=True)
class Decision:
    """The outcome of asking for a slot: ``taken``, ``exhausted`` or ``unreachable``."""

    outcome: str
    details: dict[str, Any]
    slot: Slot | None = None


class Budgets:
    """Takes slots of the fleet's budgets for this agent (``host``)."""

    def __init__(self, etcd: Etcd, host: str, *, lease_ttl: float = 15.0) -> None:
        self.etcd = etcd
        self.host = host
        self.lease_ttl = lease_ttl
        # Slots this agent holds: given back at once when the agent stops cleanly.
        self.held: list[Slot] = []

    async def release_all(self) -> None:
        """Give back every slot still held (a remediation cancelled by the stop, or one
        waiting for its verification): other agents need not wait for the lease to expire."""
        for slot in list(self.held):
            await slot.release()

    def _forget(self, slot: Slot) -> None:
        if slot in self.held:
            self.held.remove(slot)

    async def members(self, group: str) -> int:
        return len(await self.etcd.get_prefix(keys.members(group)))

    async def acquire(self, budget: FleetBudget, **owner: str) -> Decision:
        """A slot of ``budget`` for ``owner`` (policy, target, incident), waiting up to
        ``budget.wait`` for one to free; never raises for etcd's sake."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget.wait
        value = json.dumps({"host": self.host, **owner, "taken": time.time()})
        started = loop.time()
        while True:
            try:
                slot, held, cap = await self._try(budget, value)
            except FleetError as exc:
                return Decision("unreachable", {"group": budget.group, "error": exc.message})
            info = {"group": budget.group, "held": held, "max": cap}
            if slot is not None:
                slot.on_release = self._forget
                self.held.append(slot)
                slot.start()
                waited = round(loop.time() - started, 3)
                return Decision("taken", {**info, "slot": slot.key, "waited": waited}, slot)
            if loop.time() >= deadline:
                return Decision("exhausted", info)
            pause = POLL * (1 + random.random())  # noqa: S311 - jitter, not a secret
            await asyncio.sleep(max(0.0, min(pause, deadline - loop.time())))

    async def _try(self, budget: FleetBudget, value: str) -> tuple[Slot | None, int, int]:
        members = await self.members(budget.group) if budget.max_percent is not None else 0
        cap = capacity(budget, members)
        held = await self.etcd.get_prefix(keys.slots(budget.group))
        taken = {keys.last_part(kv.key) for kv in held}
        free = [i for i in range(cap) if str(i) not in taken]
        if len(held) >= cap or not free:
            return None, len(held), cap
        random.shuffle(free)  # agents that look at once try different slots first
        ttl = max(self.lease_ttl, 3.0)
        lease = await self.etcd.grant(ttl)
        for index in free:
            key = keys.slot(budget.group, index)
            if await self.etcd.txn([absent(key)], [put_op(key, value, lease)]):
                return Slot(self.etcd, key, value, lease, ttl, budget.per), len(held) + 1, cap
        await self.etcd.revoke(lease)
        return None, cap, cap
