"""One policy at work: its schedule, its probe, and the state of each of its targets.

The runner measures when its :mod:`~medic.engine.schedule` says (the policy's interval,
a change the probe's watch() reports, a verification that is due), through
:mod:`~medic.engine.probing` (timeouts, failures), feeds each target's fields to the
pure functions in :mod:`medic.engine.state`, asks the :mod:`~medic.engine.gate` before
acting (silences, dependencies, then limits), asks a human first when the policy needs
approval (:mod:`~medic.engine.asking`), and starts remediations as tasks of their own
so no target waits for another. Every escalation passes the silences on its way out:
a silenced one is audited, not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from medic.actions.base import Action
from medic.audit.events import AuditEvent, Kind, Reason
from medic.engine import probehealth as ph
from medic.engine import state as st
from medic.engine.asking import Asking
from medic.engine.context import EngineContext, Timer
from medic.engine.fleet_gate import FleetGate, release_after
from medic.engine.gate import gate
from medic.engine.multiprobe import make_probe
from medic.engine.pager import NOT_PAGES
from medic.engine.probing import Probing
from medic.engine.remediation import build_actions, run_steps
from medic.engine.schedule import Schedule
from medic.engine.silences import Silence
from medic.fleet.budget import Slot
from medic.policy.model import Policy
from medic.probes.base import Probe

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
        self._tasks: set[asyncio.Task[Any]] = set()
        # The wake-up set for the end of a cooldown: when (wall clock) and its timer.
        self._wake: tuple[float, Timer] | None = None
        inherited = engine.inherited_incidents.pop((policy.name, ph.PROBE_TARGET), None)
        self.health = ph.inherited(inherited)
        self.asking = Asking(self)
        self.fleet = FleetGate(self)
        self.probing = Probing(self)
        self.samples = engine.samples.policy(policy)
        self.schedule = Schedule(
            policy.name, policy.probe.every, self.probe, engine.metrics, self.evaluate
        )

    @property
    def dry_run(self) -> bool:
        return self.engine.dry_run or self.policy.dry_run

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
        measurement = await self.probing.measure()
        if measurement is None:
            return
        measurement = await self.samples.observe(measurement, now)  # + window values
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
            self.emit(
                target,
                Kind.CLEARED,
                inherited,
                {"reason": reason},
                outcome="cleared",
                values=fields,
            )
            if paged:
                request = st.Escalate("cleared", reason, resolve=True)
                self.page(target, inherited, request, fields, None)
            tr = replace(tr, state=replace(tr.state, escalated=False))
        self.apply(target, old, tr)
        if tr.wants_action:
            self.try_act(target, now)

    def apply(self, target: str, old: st.TargetState, tr: st.Transition) -> None:
        """Take transition ``tr`` of ``target``: audit its notes, page, keep requests in step."""
        now = self.engine.clock.wall()
        silence = None
        if tr.escalate is not None and not tr.escalate.resolve:
            silence = self.active_silence(target, now)
            if silence is not None:
                tr = st.hush(old, tr, silence.id)
        self.states[target] = tr.state
        incident = tr.state.incident or old.incident
        for note in tr.notes:
            self.emit(target, note.kind, incident, note.details, note.outcome, tr.state.values)
        if tr.escalate is not None:
            owed = self.policy.approval_notify if old.asked else ()
            self.page(target, incident, tr.escalate, tr.state.values, silence, owed)
        self.asking.ended(old, tr.state, now)
        if tr.state.incident is None:
            self.history.pop(target, None)
            self.engine.pager.closed(old.incident)

    def page(
        self,
        target: str,
        incident: str | None,
        request: st.Escalate,
        values: Mapping[str, Any],
        silence: Silence | None,
        also: tuple[str, ...] = (),
    ) -> None:
        """Tell humans, unless a silence holds the escalation back (then only audit it)."""
        notify = request.notify or self.policy.escalate.notify
        if request.resolve:  # to everyone asked or paged, at any on-call level
            paged = self.engine.pager.closed(incident)
            notify = tuple(dict.fromkeys((*notify, *also, *paged)))
        if request.silenced_by is not None and silence is not None:
            details = {
                "reason": request.reason,
                "summary": request.summary,
                "notify": list(notify),
                "silence": silence.summary(),
            }
            self.emit(target, Kind.ESCALATED, incident, details, "silenced", values)
            return
        self.engine.escalator.escalate(
            policy=self.policy.name,
            target=target,
            incident=incident,
            request=request,
            notify=notify,
            values=values,
            history=self.history.get(target, ()),
            dry_run=self.dry_run,
            severity=self.policy.escalate.severity,
        )
        if (
            incident
            and notify
            and not request.resolve
            and not self.dry_run
            and request.reason not in NOT_PAGES
        ):
            now = self.engine.clock.wall()
            self.engine.pager.paged(self.policy.name, target, incident, tuple(notify), now)

    def active_silence(self, target: str, now: float) -> Silence | None:
        return self.engine.silences.active(self.policy.name, target, self.policy.labels, now)

    # -- acting ------------------------------------------------------------------------

    def try_act(self, target: str, now: float) -> None:
        """The target wants an action: through the gate, then (if needed) a human, then act."""
        state = self.states[target]
        verdict, note = gate(
            self.engine,
            self.policy,
            target,
            now,
            silence=self.active_silence(target, now),
            active=sum(1 for s in self.states.values() if s.active),
            selected=self.selected,
            dry_run=self.dry_run,
        )
        if note is not None:  # the breaker tripped or reset: host-wide, no policy
            self.emit(None, note.kind, None, note.details, note.outcome, policy=False)
        if not verdict.allowed:
            assert verdict.reason is not None
            self.engine.metrics.suppressions.labels(verdict.reason.value).inc()
            tr = st.suppress(state, self.policy, verdict.reason.value, now, verdict.details)
            self.apply(target, state, tr)
            if verdict.reason in st.WAITS:
                self._retry_after_wait(verdict.reason, verdict.details)
            return
        if self.policy.approval is not None and state.approval != "granted":
            self.asking.consult(target, state, now)
            return
        self.fleet.admit(target, state, now)

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
        if all(o.ok for o in outcomes if not o.cleanup):
            self.probe.acted(target, now)  # a scheduled job that ran is no longer due
        self.states[target] = st.finish(current, self.policy, now)
        self.engine.slot_freed()
        # A little slack: the wall clock the state compares against may trail the loop clock.
        self.engine.wake_later(self.policy.verify.after + 0.01, self.trigger)

    # -- audit -------------------------------------------------------------------------

    def emit(
        self,
        target: str | None,
        kind: Kind,
        incident: str | None,
        details: Mapping[str, Any],
        outcome: str | None = None,
        values: Mapping[str, Any] | None = None,
        policy: bool = True,
    ) -> None:
        self.engine.audit.emit(
            AuditEvent(
                kind,
                self.engine.clock.wall(),
                policy=self.policy.name if policy else None,
                target=target,
                incident=incident,
                outcome=outcome,
                values=values,
                details={**details, **({"dry_run": True} if self.dry_run else {})},
            )
        )

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
