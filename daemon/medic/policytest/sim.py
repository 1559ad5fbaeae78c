"""One test case through the real engine: runner, state machine, limits, silences,
approvals, escalation and on-call levels, on simulated time, with no I/O.

The probe reads the case's series; each remediation step is scripted (the attempt
heals the target, fails, or has no effect). Time jumps from one thing to the next:
an interval's reading, a wake-up the runner asked for (a verification due, a cooldown
ending), a human's answer, an on-call level falling due. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medic.actions.base import Action, ActionContext, ActionResult
from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.clock import FakeClock
from medic.config import GlobalLimits
from medic.engine.context import EngineContext, Timer
from medic.engine.core.silences import Matchers, Silence
from medic.engine.escalation import Escalator
from medic.engine.human_input import HumanInput
from medic.engine.multiprobe import single
from medic.engine.pager import send_due
from medic.engine.runner import PolicyRunner
from medic.errors import MedicError, ProbeError
from medic.metrics import Metrics
from medic.notify.base import Notification
from medic.policy.model import Policy
from medic.policytest.fleet import ScriptedBudgets
from medic.policytest.parking import Parking
from medic.policytest.series import FAIL, MISSING, Series
from medic.policytest.spec import Case, Human
from medic.probes.base import Measurement, Probe

T0 = 1_700_000_000.0
# Without `duration:`, a case runs for its longest series and at least this many intervals
# (and long enough to fire after `for:` and verify once).
DEFAULT_STEPS = 10
# A run with more steps than this is cut short (a test is a short story, not a soak).
MAX_EVENTS = 200_000

_METRICS: Metrics | None = None


def _metrics() -> Metrics:
    """One registry for every simulated case: metrics never change a decision."""
    global _METRICS  # noqa: PLW0603 -- created once, on first use
    if _METRICS is None:
        _METRICS = Metrics()
    return _METRICS


class MemoryAudit(AuditStore):
    """The audit store's interface, kept in a list."""

    def __init__(self) -> None:  # no database, no writer thread
        self.events: list[AuditEvent] = []
        self._observers: list[Callable[[AuditEvent], None]] = []

    def on_event(self, callback: Callable[[AuditEvent], None]) -> None:
        self._observers.append(callback)

    def emit(self, event: AuditEvent) -> None:
        self.events.append(event)
        for callback in self._observers:
            callback(event)

    async def emit_durable(self, event: AuditEvent) -> None:
        self.emit(event)

    async def write(self, fn: Any) -> Any:
        return None

    async def flush(self) -> None:
        return None

    def on_write_failure(self, callback: Callable[[str], None]) -> None:
        return None  # nothing to fail: the list always takes the event


class SimEscalator(Escalator):
    """Audits escalations exactly as the agent does; delivers nothing."""

    def _deliver(self, notification: Notification, notify: Sequence[str]) -> None:
        return None


@dataclass(order=True)
class _Due:
    time: float
    seq: int
    what: str = field(compare=False)
    human: Human | None = field(default=None, compare=False)
    wake: asyncio.Future[None] | None = field(default=None, compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class ScriptedProbe(Probe):
    """Reads the case's series at the simulated time."""

    dynamic_fields = True

    def __init__(self, sim: Simulation) -> None:
        super().__init__({})
        self.sim = sim

    async def measure(self) -> Measurement:
        return self.sim.readings()


class ScriptedStep(Action):
    """One remediation step whose effect the case scripts."""

    def __init__(self, sim: Simulation, index: int, last: bool) -> None:
        super().__init__({})
        self.sim, self.index, self.last = sim, index, last

    def describe(self, ctx: ActionContext) -> str:
        return f"step {self.index + 1} of the policy (scripted)"

    async def run(self, ctx: ActionContext) -> ActionResult:
        return self.sim.attempt(ctx.target, self.index, self.last)


def _read(
    inputs: dict[str, dict[str, Series]],
    step: int,
    healed: set[str] | frozenset[str] = frozenset(),
    overrides: Mapping[str, Any] | None = None,
) -> Measurement:
    """Each target's readings at ``step`` (a healed one's ``overrides`` on top); a
    target with none is not selected."""
    out: Measurement = {}
    for target, fields in inputs.items():
        values = {name: series.at(step) for name, series in fields.items()}
        if any(v is FAIL for v in values.values()):
            raise ProbeError("the test's series says the probe fails here")
        present = {k: v for k, v in values.items() if v is not MISSING}
        if target in healed and overrides:
            present.update(overrides)
        if present:
            out[target] = present
    return out


class ScriptedCleanup(Action):
    """A ``finally:`` step: it runs (audited) and succeeds; it heals nothing."""

    def describe(self, ctx: ActionContext) -> str:
        return "a finally step of the policy (scripted)"

    async def run(self, ctx: ActionContext) -> ActionResult:
        return ActionResult(ok=True, summary="finally step (scripted)")


class Simulation:
    """One case on simulated time from ``start`` (``medic backtest`` starts at the
    recording's first reading and feeds it through :meth:`readings` and
    :meth:`evaluation_times`)."""

    def __init__(self, case: Case, policy: Policy, start: float = T0) -> None:
        self.case, self.policy = case, policy
        self.start = start
        self.clock = FakeClock(start)
        self.audit = MemoryAudit()
        self.interval = case.interval or policy.probe.every
        every_input = [case.input, *(case.named or {}).values()]
        longest = max(
            (len(s) for i in every_input for fields in i.values() for s in fields.values()),
            default=1,
        )
        # Long enough to read every series, to fire after `for:` and to verify once.
        default = max(
            self.interval * max(longest - 1, DEFAULT_STEPS),
            policy.hold + policy.verify.after + 2 * self.interval,
        )
        self.end = case.duration if case.duration is not None else default
        self.engine = EngineContext(
            clock=self.clock,
            audit=self.audit,
            metrics=_metrics(),
            escalator=SimEscalator({}, self.audit, self.clock, "test"),
            limits=GlobalLimits(),
            host="test",
            wake_later=self._wake_later,
        )
        self.audit.on_event(self.engine.pager.observe)
        self.parking = Parking()  # tasks waiting on simulated time
        if policy.fleet_budget is not None:
            self.engine.fleet = ScriptedBudgets(
                case.fleet, policy, self.clock, start, self._sleep_until
            )
        count = len(policy.remediate)
        steps: list[Action] = [ScriptedStep(self, i, i == count - 1) for i in range(count)]
        cleanup: list[Action] = [ScriptedCleanup({}) for _ in policy.finally_steps]
        self.runner = PolicyRunner(
            policy, self.engine, probe=ScriptedProbe(self), steps=steps, cleanup=cleanup
        )
        self.runner.schedule.trigger = self._evaluate_now  # type: ignore[method-assign]
        self.humans = HumanInput(self.engine, lambda: {policy.name: self.runner})
        self.healed: set[str] = set()
        self.attempts: dict[str, int] = {}
        self._queue: list[_Due] = []
        self._seq = itertools.count()

    # -- time ----------------------------------------------------------------------

    def _push(self, time: float, what: str, human: Human | None = None) -> _Due:
        item = _Due(time, next(self._seq), what, human)
        heapq.heappush(self._queue, item)
        return item

    def _wake_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        return self._push(self.clock.wall() + delay, "evaluate")

    def _evaluate_now(self) -> None:
        self._push(self.clock.wall(), "evaluate")

    async def _sleep_until(self, when: float) -> None:
        """Wait (in a task) until the simulated clock reaches ``when``."""
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._push(when, "wake").wake = wake
        await self.parking.wait(wake)

    def now(self) -> float:
        return self.clock.wall() - self.start

    # -- the scripted world ------------------------------------------------------------

    def readings(self) -> Measurement:
        step = math.floor(self.now() / self.interval + 1e-9)
        if self.case.named is None:
            return _read(self.case.input, step, self.healed, self.case.healed)
        return self._named_readings(step)

    def _named_readings(self, step: int) -> Measurement:
        """Like :class:`~medic.engine.multiprobe.MultiProbe`: the first probe of the
        policy gives the targets, each other one its single target as shared context."""
        assert self.case.named is not None
        names = [name for name, _ in self.policy.probes]
        read = {name: _read(self.case.named.get(name, {}), step) for name in names}
        context = {name: single(name, read[name])[1] for name in names[1:]}
        out: Measurement = {}
        for target, fields in read[names[0]].items():
            out[target] = {names[0]: fields, **{k: dict(v) for k, v in context.items()}}
            if target in self.healed:
                for key, value in self.case.healed.items():
                    part = out[target].get(key)
                    if isinstance(value, dict) and isinstance(part, dict):
                        part.update(value)
                    else:
                        out[target][key] = value
        return out

    def attempt(self, target: str, index: int, last: bool) -> ActionResult:
        if index == 0:
            self.attempts[target] = self.attempts.get(target, 0) + 1
        n = self.attempts.get(target, 1)
        outcomes = self.case.attempts or ("no_effect",)
        outcome = outcomes[min(n, len(outcomes)) - 1]
        if outcome == "fails":
            return ActionResult(ok=False, summary=f"attempt {n} fails (scripted)")
        if outcome == "heals" and last:
            self.healed.add(target)
        return ActionResult(ok=True, summary=f"attempt {n}: {outcome} (scripted)")

    # -- running -----------------------------------------------------------------------

    def evaluation_times(self) -> Sequence[float]:
        """When the probe is read on schedule: every interval from the start."""
        steps = math.floor(self.end / self.interval + 1e-9)
        return [self.start + k * self.interval for k in range(steps + 1)]

    async def run(self) -> list[AuditEvent]:
        for time in self.evaluation_times():
            self._push(time, "evaluate")
        for human in self.case.humans:
            self._push(self.start + human.at, "human", human)
        handled = 0
        paged_at: float | None = None
        while self._queue and handled < MAX_EVENTS:
            item = heapq.heappop(self._queue)
            if item.cancelled or item.time > self.start + self.end + 1e-9:
                continue
            handled += 1
            if item.time > self.clock.wall():
                self.clock.advance(item.time - self.clock.wall())
            if item.what == "human" and item.human is not None:
                await self._human(item.human)
            elif item.what == "evaluate":
                await self.runner.evaluate()
                await self._settle()
            elif item.wake is not None:
                self.parking.wake(item.wake)
                await self._settle()
            send_due(self.engine, {self.policy.name: self.runner}, self.clock.wall())
            due = self.engine.pager.next_due(lambda name: self.policy)
            if due is not None and due != paged_at:
                paged_at = due
                self._push(due, "page")
        await self.runner.stop()
        await self.runner.fleet.cancel()  # still waiting for a slot when the case ends
        return self.audit.events

    async def _settle(self) -> None:
        """Let every task run until it is done or waits on simulated time."""
        await self.parking.settle(lambda: (*self.runner._tasks, *self.runner.fleet._tasks))

    async def _human(self, human: Human) -> None:
        now = self.clock.wall()
        if human.kind == "silence":
            self.engine.silences.add(
                Silence(
                    id=f"test-{next(self._seq)}",
                    starts=now,
                    ends=self.start + human.until,
                    author=human.by,
                    reason="medic test",
                    matchers=Matchers(policy=self.policy.name, target=human.target),
                    act=human.act,
                    created=now,
                )
            )
            return
        incidents = [
            s.incident
            for target, s in self.runner.states.items()
            if s.incident and (human.target is None or target == human.target)
        ]
        for incident in incidents:
            if human.kind == "ack":
                self.audit.emit(
                    AuditEvent(Kind.ACKNOWLEDGED, now, incident=incident, details={"by": human.by})
                )
                continue
            try:
                await self.humans.answer(incident, human.kind == "approve", human.by, None)
            except MedicError:
                continue  # nothing waiting for an answer at this moment
        await self._settle()


async def simulate(case: Case, policy: Policy) -> list[AuditEvent]:
    """The audit events the engine writes for ``case``; times start at :data:`T0`."""
    return await Simulation(case, policy).run()


def relative(events: Sequence[AuditEvent]) -> list[tuple[float, AuditEvent]]:
    return [(e.time - T0, e) for e in events]


def reason_of(event: AuditEvent) -> str | None:
    details: Mapping[str, Any] = event.details
    reason = details.get("reason")
    return str(reason) if reason is not None else event.outcome
