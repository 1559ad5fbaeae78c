"""One policy at work: its schedule, its probe, and the state of each of its targets.

The runner measures when its :mod:`~medic.engine.schedule` says (the policy's interval,
a change the probe's watch() reports, a verification that is due), through
:mod:`~medic.engine.probing` (timeouts), feeds each target's fields to the pure
functions in :mod:`medic.engine.core.state`, asks the :mod:`~medic.engine.core.gate`
before acting (silences, dependencies, then limits), asks a human first when the
policy needs approval (:mod:`~medic.engine.asking`), and starts remediations as tasks
of their own so no target waits for another.

The helpers return decisions and the runner applies them: a target's
:class:`~medic.engine.core.state.Transition`, the probe's
:class:`~medic.engine.core.sight.Sight`, an approval's
:class:`~medic.engine.core.consult.Consulted`. Every change that may tell humans (a
target's or the probe's health) takes one path, :meth:`~medic.engine.telling.Teller.settle`:
the silence it falls under, its state kept, its audit notes, then the page; a
silenced escalation is audited, not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import structlog

from medic.actions.base import Action
from medic.audit.events import Kind, Reason
from medic.engine.asking import Asking
from medic.engine.context import EngineContext, Timer
from medic.engine.core import probehealth as ph
from medic.engine.core import sight
from medic.engine.core import state as st
from medic.engine.core.cleanup import cleanup_failed
from medic.engine.core.cleanup import hush as hush_cleanup
from medic.engine.core.consult import Consulted, answered
from medic.engine.core.gate import gate
from medic.engine.fleet_gate import FleetGate, release_after
from medic.engine.multiprobe import make_probe
from medic.engine.probing import Probing
from medic.engine.remediation import build_actions, run_steps
from medic.engine.schedule import Schedule
from medic.engine.telling import Teller
from medic.fleet.budget import Slot
from medic.policy.model import Policy
from medic.probes.base import Measurement, Probe

log = structlog.get_logger("medic.runner")


class PolicyRunner:
    def __init__(
        self,
        policy: Policy,
        engine: EngineContext,
        states: dict[str, st.TargetState] | None = None,
        *,
        probe: Probe | None = None,
        steps: list[Action] | None = None,
        cleanup: list[Action] | None = None,
    ) -> None:
        """``probe``, ``steps`` and ``cleanup`` (the ``finally:`` steps) replace the
        policy's own (``medic test`` scripts them)."""
        self.policy = policy
        self.engine = engine
        self.probe: Probe = probe if probe is not None else make_probe(policy)
        self.probe.timeout = policy.probe.timeout
        self.steps = steps if steps is not None else build_actions(policy)
        if cleanup is None:  # scripted steps and real cleanup never mix: [] must match
            cleanup = build_actions(policy, cleanup=True) if steps is None else []
        self.cleanup = cleanup
        self.states: dict[str, st.TargetState] = states or {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.selected = 0
        # Whether a measurement ever succeeded: policies that depend on this one wait for it.
        self.measured = False
        self.last_error: str | None = None
        # Whether the last measurement selected no target (None: none yet).
        self.empty: bool | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        # The wake-up set for the end of a cooldown: when (wall clock) and its timer.
        self._wake: tuple[float, Timer] | None = None
        inherited = engine.inherited_incidents.pop((policy.name, ph.PROBE_TARGET), None)
        self.health = ph.inherited(inherited)
        self.tell = Teller(policy, engine, self.history)
        self.asking = Asking(engine, policy, self.trigger)
        self.fleet = FleetGate(self)
        self.probing = Probing(self.probe, policy, engine)
        self.samples = engine.samples.policy(policy)
        self.schedule = Schedule(
            policy.name, policy.probe.every, self.probe, engine.metrics, self.evaluate
        )

    @property
    def dry_run(self) -> bool:
        return self.tell.dry_run

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self.schedule.start()

    async def stop(self) -> None:
        """Stop scheduling; remediations already running finish on their own."""
        await self.schedule.stop()
        if self._wake is not None:
            self._wake[1].cancel()
        self.engine.waiting.discard(self.trigger)
        with contextlib.suppress(Exception):
            await self.probe.close()

    async def cancel_remediations(self) -> None:
        await self.fleet.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def trigger(self) -> None:
        """Evaluate now instead of at the next interval."""
        self.schedule.trigger()

    # -- evaluation ------------------------------------------------------------------

    async def evaluate(self) -> None:
        # A measurement counts as of when it began: one that started before a
        # verification was due must not pass for that verification.
        now = self.engine.clock.wall()
        measurement = await self.measure()
        if measurement is None:
            return
        samples = self.samples  # + window values; the rings are read back once, at first
        if samples.loaded:
            measurement = samples.observe_loaded(measurement, now)
        else:
            measurement = await samples.observe(measurement, now)
        self.selected = len(measurement)
        for target, fields in measurement.items():
            self._observe(target, fields, now)
        # Every measured target is in states now: any other is one that vanished.
        vanished = (
            [t for t in self.states if t not in measurement]
            if len(self.states) > len(measurement)
            else []
        )
        for target in vanished:
            tr = st.vanish(self.states[target], now)
            self.apply(target, self.states[target], tr)
            if tr.state.incident is None and tr.state.phase == st.Phase.OK:
                del self.states[target]
        self.measured = True

    async def measure(self) -> Measurement | None:
        """The probe's measurement, or None when it failed (audited, counted, maybe
        paged) or the agent is stopping; what the run means is applied first."""
        reading = await self.probing.measure()
        if reading is None:
            return None
        if reading.error is not None:
            failed = sight.failed(
                self.last_error, self.health, self.policy, reading.error, reading.outcome
            )
            self.see(failed)
            return None
        measurement = reading.measurement
        assert measurement is not None
        seen = sight.measured(self.last_error, self.health, self.empty, not measurement)
        if seen is not None:
            self.see(seen)
        return measurement

    def see(self, seen: sight.Sight) -> None:
        """Apply what a probe run means: its notes, the health change, then the rest."""
        self.tell.note(None, None, seen.notes)
        self.last_error = seen.last_error
        if seen.health is not None:
            old = self.health

            def keep(change: ph.HealthChange) -> tuple[str | None, None]:
                self.health = change.health
                return change.health.incident or old.incident, None

            now = self.engine.clock.wall()
            self.tell.settle(ph.PROBE_TARGET, seen.health, partial(ph.hush, old), keep, now)
        if seen.empty is not None:
            self.empty = seen.empty
        self.tell.note(None, None, seen.then)

    def _observe(self, target: str, fields: Mapping[str, Any], now: float) -> None:
        old = self.states.get(target)
        if old is None:
            old = st.TargetState(since=now)
        inherited = (
            self.engine.inherited_incidents.pop((self.policy.name, target), None)
            if self.engine.inherited_incidents
            else None
        )
        paged = inherited is not None and inherited in self.engine.inherited_escalated
        if paged:  # a human already knows: do not page again, and owe them a resolve
            old = replace(old, escalated=True)
        tr = st.observe(old, self.policy, fields, now, incident_id=inherited)
        if inherited and tr.state.incident != inherited:
            # The agent restarted with this incident open and the problem is gone.
            reason = "cleared while the agent was not running"
            self.tell.emit(
                target,
                Kind.CLEARED,
                inherited,
                {"reason": reason},
                outcome="cleared",
                values=fields,
            )
            if paged:
                request = st.Escalate("cleared", reason, resolve=True)
                self.tell.page(target, inherited, request, fields, None)
            tr = replace(tr, state=replace(tr.state, escalated=False))
        self.apply(target, old, tr)
        if tr.wants_action:
            self.try_act(target, now)

    def apply(self, target: str, old: st.TargetState, tr: st.Transition) -> None:
        """Take transition ``tr`` of ``target``: audit its notes, page, keep requests in step."""
        quiet = tr.escalate is None and not tr.notes
        if quiet and old.incident is None and tr.state.incident is None:
            # A healthy target staying healthy, nearly every evaluation: nothing to audit,
            # page or close (no silence to look up, no request to end).
            self.states[target] = tr.state
            self.history.pop(target, None)
            return
        now = self.engine.clock.wall()

        def keep(tr: st.Transition) -> tuple[str | None, Mapping[str, Any]]:
            self.states[target] = tr.state
            return tr.state.incident or old.incident, tr.state.values

        owed = self.policy.approval_notify if old.asked else ()
        tr = self.tell.settle(target, tr, partial(st.hush, old), keep, now, owed)
        self.asking.ended(old, tr.state, now)
        if tr.state.incident is None:
            self.history.pop(target, None)
            self.engine.pager.closed(old.incident)

    # -- acting ------------------------------------------------------------------------

    def try_act(self, target: str, now: float) -> None:
        """The target wants an action: through the gate, then (if needed) a human, then act."""
        state = self.states[target]
        verdict, note = gate(
            self.engine,
            self.policy,
            target,
            now,
            silence=self.tell.active_silence(target, now),
            active=sum(1 for s in self.states.values() if s.active),
            selected=self.selected,
            dry_run=self.dry_run,
        )
        if note is not None:  # the breaker tripped or reset: host-wide, no policy
            self.tell.emit(None, note.kind, None, note.details, note.outcome, policy=False)
        if not verdict.allowed:
            assert verdict.reason is not None
            self.engine.metrics.suppressions.labels(verdict.reason.value).inc()
            tr = st.suppress(state, self.policy, verdict.reason.value, now, verdict.details)
            self.apply(target, state, tr)
            if verdict.reason in st.WAITS:
                self._retry_after_wait(verdict.reason, verdict.details)
            return
        if self.policy.approval is not None and state.approval != "granted":
            self._consulted(target, state, self.asking.consult(target, state, now), now)
            return
        self.fleet.admit(target, state, now)

    def _consulted(
        self, target: str, state: st.TargetState, decided: Consulted, now: float
    ) -> None:
        """Apply what asking a human decided (the request is already recorded)."""
        if decided.transition is not None:
            self.apply(target, state, decided.transition)
        if decided.state is not None:
            self.states[target] = decided.state
        if decided.close is not None:
            assert state.incident is not None
            self.asking.close(state.incident, decided.close, now)
        if decided.act:
            self.fleet.admit(target, self.states[target], now)

    def answered(self, target: str, incident: str, granted: bool, now: float) -> None:
        """A human answered ``incident``'s request (already recorded and audited)."""
        state = answered(self.states.get(target), incident, granted, now)
        if state is None:
            return  # not waiting for it now: the next admitted attempt reads the answer
        self.states[target] = state
        if granted:
            self.try_act(target, now)  # limits are checked again, now

    def _retry_after_wait(self, reason: Reason, details: Mapping[str, Any]) -> None:
        """A deferred attempt is tried again the moment the wait can be over: when the
        cooldown ends, or when a running remediation frees a slot."""
        if reason is not Reason.COOLDOWN:
            self.engine.waiting.add(self.trigger)
            return
        delay = float(details.get("remaining", 0.0)) + 0.01
        when = self.engine.clock.wall() + delay
        if self._wake is not None:
            if self.engine.clock.wall() <= self._wake[0] <= when:
                return  # an earlier wake-up is already set; it re-defers the others
            self._wake[1].cancel()
        self._wake = (when, self.engine.wake_later(delay, self.trigger))

    def act(self, target: str, state: st.TargetState, now: float, slot: Slot | None = None) -> None:
        """Record the attempt against the limits and start the steps as a task
        (holding the fleet budget's ``slot``, if one was taken, until verification)."""
        if self.dry_run:
            self.engine.metrics.suppressions.labels(Reason.DRY_RUN.value).inc()
        self.engine.ledger.record(self.policy.name, target, now, dry=self.dry_run)
        admitted = st.admit(state, now)
        self.states[target] = admitted
        task = asyncio.get_running_loop().create_task(self._remediate(target, admitted, now, slot))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _remediate(
        self, target: str, state: st.TargetState, admitted_at: float, slot: Slot | None
    ) -> None:
        """Run the steps; whatever happens, the target leaves ``remediating``."""
        assert state.incident is not None
        with structlog.contextvars.bound_contextvars(
            policy=self.policy.name, target=target, incident=state.incident
        ):
            try:
                outcomes = await run_steps(
                    self.engine,
                    self.policy,
                    self.steps,
                    target=target,
                    incident=state.incident,
                    fields=state.values,
                    attempt=state.attempts,
                    dry_run=self.dry_run,
                    cleanup=self.cleanup,
                )
            except Exception:  # a bug must not strand the target in remediating
                log.exception("remediation.crashed")
                outcomes = []
        release_after(slot, self.policy.verify.after)
        current = self.states.get(target, state)
        now = self.engine.clock.wall()
        if outcomes and not any(o.ran for o in outcomes):
            # Nothing ran (no intent could be written): no attempt, firing again.
            self.engine.ledger.forget(self.policy.name, target, admitted_at, dry=self.dry_run)
            self.states[target] = st.withdraw(current, now)
            self.engine.slot_freed()
            return
        self.history.setdefault(target, []).extend(o.as_history() for o in outcomes)
        told = cleanup_failed(self.policy.name, outcomes)
        if told is not None:
            incident, values = state.incident, dict(current.values)
            self.tell.settle(target, told, hush_cleanup, lambda _: (incident, values), now)
        if all(o.ok for o in outcomes if not o.cleanup):
            self.probe.acted(target, now)  # a scheduled job that ran is no longer due
        self.states[target] = st.finish(current, self.policy, now)
        self.engine.slot_freed()
        # A little slack: the wall clock the state compares against may trail the loop clock.
        self.engine.wake_later(self.policy.verify.after + 0.01, self.trigger)

    def snapshot(self) -> dict[str, Any]:
        p = self.policy
        return {
            "name": p.name,
            "description": p.description,
            "probe": p.probe.type,
            "every": p.probe.every,
            "dry_run": self.dry_run,
            "source": str(p.source) if p.source else None,
            "last_error": self.last_error,
            "targets": [
                {
                    "target": target,
                    "state": s.label(),
                    "incident": s.incident,
                    "since": s.since,
                    "attempts": s.attempts,
                    "values": dict(s.values),
                    "approval": s.approval,
                }
                for target, s in sorted(self.states.items())
            ],
            "labels": dict(p.labels),
            "depends_on": list(p.depends_on),
            "approval_required": p.approval is not None,
            "probe_failures": self.health.failures,
        }
