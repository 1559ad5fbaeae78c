"""The fleet's word before acting: a slot of the policy's ``fleet_budget`` in etcd.

The local gate (:mod:`medic.engine.core.gate`) has said yes; a policy with a fleet budget
then needs a slot, which is I/O, so it is taken in a task of its own while the target
waits (it is not asked twice meanwhile). Taken: the runner acts, holding the slot
until verification is due. Exhausted: the attempt is suppressed (``fleet_budget``) and
escalated once per incident, and the next evaluation asks again. etcd unreachable:
fail closed (suppressed, ``fleet_unreachable``) unless the policy says
``on_unreachable: act``. Every decision is audited (``fleet.*``).

It sees its runner through :class:`Admitting`, the few things it needs of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from medic.audit.events import Kind, Reason
from medic.engine.context import EngineContext
from medic.engine.core import state as st
from medic.engine.telling import Teller
from medic.fleet.budget import Decision, Slot
from medic.policy.model import Policy


class Admitting(Protocol):
    """What the fleet gate needs of its runner: read the target, then act, or audit
    and apply the suppression."""

    @property
    def policy(self) -> Policy: ...

    @property
    def engine(self) -> EngineContext: ...

    @property
    def dry_run(self) -> bool: ...

    @property
    def states(self) -> Mapping[str, st.TargetState]: ...

    def act(
        self, target: str, state: st.TargetState, now: float, slot: Slot | None = None
    ) -> None: ...

    @property
    def tell(self) -> Teller: ...

    def apply(self, target: str, old: st.TargetState, tr: st.Transition) -> None: ...


_KINDS = {
    "taken": Kind.FLEET_SLOT_TAKEN,
    "exhausted": Kind.FLEET_BUDGET_EXHAUSTED,
    "unreachable": Kind.FLEET_UNREACHABLE,
}


class FleetGate:
    """One per runner: takes slots for its targets, one request per target at a time."""

    def __init__(self, runner: Admitting) -> None:
        self.runner = runner
        self.waiting: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    def admit(self, target: str, state: st.TargetState, now: float) -> None:
        """Act on ``target`` now, or once the fleet gave a slot (a dry run needs none)."""
        runner = self.runner
        if runner.policy.fleet_budget is None or runner.dry_run:
            runner.act(target, state, now)
            return
        if target in self.waiting:
            return
        self.waiting.add(target)
        task = asyncio.get_running_loop().create_task(self._take(target, state))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _take(self, target: str, state: st.TargetState) -> None:
        runner = self.runner
        budget = runner.policy.fleet_budget
        assert budget is not None and state.incident is not None
        owner = {"policy": runner.policy.name, "target": target, "incident": state.incident}
        try:
            fleet = runner.engine.fleet
            if fleet is None:
                decision = Decision("unreachable", {"group": budget.group, "error": "no fleet"})
            else:
                decision = await fleet.acquire(budget, **owner)
        finally:
            self.waiting.discard(target)
        fail_open = decision.outcome == "unreachable" and budget.on_unreachable == "act"
        outcome = "fail_open" if fail_open else decision.outcome
        runner.tell.emit(
            target, _KINDS[decision.outcome], state.incident, decision.details, outcome
        )
        now = runner.engine.clock.wall()
        current = runner.states.get(target)
        if (
            current is None
            or current.incident != state.incident
            or current.phase != st.Phase.FIRING
        ):
            await _give_back(decision.slot)  # healed or taken over while we waited
            return
        if decision.outcome == "taken" or fail_open:
            runner.act(target, current, now, decision.slot)
            return
        reason = (
            Reason.FLEET_BUDGET if decision.outcome == "exhausted" else Reason.FLEET_UNREACHABLE
        )
        runner.engine.metrics.suppressions.labels(reason.value).inc()
        tr = st.suppress(current, runner.policy, reason.value, now, decision.details)
        runner.apply(target, current, tr)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _give_back(slot: Slot | None) -> None:
    if slot is not None:
        await slot.release()


_RELEASES: set[asyncio.Task[None]] = set()


def release_after(slot: Slot | None, delay: float) -> None:
    """Give ``slot`` back once ``delay`` (the wait before verification) has passed."""
    if slot is None:
        return
    loop = asyncio.get_running_loop()

    def release() -> None:
        task = loop.create_task(slot.release())
        _RELEASES.add(task)
        task.add_done_callback(_RELEASES.discard)

    loop.call_later(delay, release)
