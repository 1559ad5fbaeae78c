"""The fleet in a policy test: a scripted disruption budget in place of etcd.

A case's ``fleet:`` says, over simulated time, how many of the budget's slots other
agents hold (``held``), how many live members the group has (``members``, for a share
budget) and when etcd cannot be reached (``unreachable: true``, or ``fleet:
unreachable`` for the whole case). :class:`ScriptedBudgets` answers the real
:class:`~medic.engine.fleet_gate.FleetGate` from that script with the same decisions
:class:`~medic.fleet.budget.Budgets` takes from etcd, counting the slots this agent
itself holds (from the moment it takes one until its verification is due, or until
the budget's ``per`` window ends, whichever is later). A budget with ``wait`` waits
on simulated time for the first moment a slot is free.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from medic.clock import Clock
from medic.errors import Location, PolicyError
from medic.fleet import keys
from medic.fleet.budget import Budgets, Decision, capacity
from medic.option_schemas import duration
from medic.policy.model import FleetBudget, Policy
from medic.policy.schema import _closed

UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class FleetPhase:
    """From ``at`` (seconds since the start) on, the fleet looks like this."""

    at: float
    held: int = 0
    members: int = 1
    unreachable: bool = False


def fleet_schema() -> dict[str, Any]:
    """The JSON Schema of a case's ``fleet:`` key."""
    phase = _closed(
        {
            "at": duration("From when, since the start of the test."),
            "held": {"type": "integer", "minimum": 0, "description": "Slots other agents hold."},
            "members": {
                "type": "integer",
                "minimum": 1,
                "description": "Live members of the group (for a budget given as a share).",
            },
            "unreachable": {"type": "boolean", "description": "etcd cannot be reached."},
        },
        ["at"],
        "The fleet from `at` on; unsaid keys keep their earlier value.",
    )
    return {
        "anyOf": [
            {"const": UNREACHABLE},
            {"type": "array", "items": phase, "minItems": 1},
        ],
        "description": "The fleet budget over time, or `unreachable` (etcd down throughout).",
    }


def parse_fleet(raw: Any, seconds: Callable[[Any], float]) -> tuple[FleetPhase, ...]:
    """Phases in time order; unsaid keys carry over from the phase before."""
    if raw == UNREACHABLE:
        return (FleetPhase(0.0, unreachable=True),)
    phases: list[FleetPhase] = []
    last = FleetPhase(0.0)
    for item in raw:
        last = FleetPhase(
            at=seconds(item["at"]),
            held=item.get("held", last.held),
            members=item.get("members", last.members),
            unreachable=item.get("unreachable", False),
        )
        phases.append(last)
    return tuple(phases)


def out_of_order(phases: tuple[FleetPhase, ...]) -> int | None:
    """The index of the first phase that does not come after the one before it."""
    for index in range(1, len(phases)):
        if phases[index].at <= phases[index - 1].at:
            return index
    return None


def without_budget(
    name: str, phases: tuple[FleetPhase, ...], policy: Policy, where: Location
) -> PolicyError | None:
    """A case that scripts the fleet for a policy with no budget tests nothing."""
    if not phases or policy.fleet_budget is not None:
        return None
    return PolicyError(
        f"test {name!r} scripts `fleet:`, but policy {policy.name!r} has no `fleet_budget`",
        location=where,
        hint="give the policy a `fleet_budget:` or remove `fleet:` from the case",
    )


class ScriptedBudgets(Budgets):
    """:class:`Budgets`' interface, answering from the case's script on simulated time."""

    def __init__(  # no etcd: the script is the fleet
        self,
        phases: tuple[FleetPhase, ...],
        policy: Policy,
        clock: Clock,
        start: float,
        sleep_until: Callable[[float], Awaitable[None]],
    ) -> None:
        self.host = "test"
        self.phases = phases
        self.clock = clock
        self.start = start
        self.sleep_until = sleep_until
        # How long one of this agent's slots stays taken.
        self.hold = max(policy.verify.after, policy.fleet_budget.per if policy.fleet_budget else 0)
        self.mine: list[float] = []  # when each of this agent's slots frees (wall clock)

    def phase(self, wall: float) -> FleetPhase:
        now = wall - self.start
        current = FleetPhase(0.0)
        for phase in self.phases:
            if phase.at > now + 1e-9:
                break
            current = phase
        return current

    def _state(self, budget: FleetBudget, wall: float) -> tuple[int, int]:
        """(slots held, capacity) at ``wall``."""
        phase = self.phase(wall)
        mine = sum(1 for ends in self.mine if ends > wall + 1e-9)
        return phase.held + mine, capacity(budget, phase.members)

    def _first_free(self, budget: FleetBudget, now: float, deadline: float) -> float | None:
        """The first moment in [now, deadline] the fleet is reachable with a free slot."""
        moments = {now}
        moments.update(self.start + p.at for p in self.phases)
        moments.update(self.mine)
        for moment in sorted(m for m in moments if now <= m <= deadline):
            held, cap = self._state(budget, moment)
            if not self.phase(moment).unreachable and held < cap:
                return moment
        return None

    async def acquire(self, budget: FleetBudget, **owner: str) -> Decision:
        now = self.clock.wall()
        if self.phase(now).unreachable:
            return Decision("unreachable", {"group": budget.group, "error": "unreachable (test)"})
        when = self._first_free(budget, now, now + budget.wait)
        if when is None:
            if budget.wait > 0:
                await self.sleep_until(now + budget.wait)
            held, cap = self._state(budget, self.clock.wall())
            return Decision("exhausted", {"group": budget.group, "held": held, "max": cap})
        if when > now:
            await self.sleep_until(when)
        held, cap = self._state(budget, when)
        self.mine.append(when + self.hold)
        details = {
            "group": budget.group,
            "held": held + 1,
            "max": cap,
            "slot": keys.slot(budget.group, held),
            "waited": round(when - now, 3),
        }
        return Decision("taken", details)
