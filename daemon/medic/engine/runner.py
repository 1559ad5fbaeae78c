"""One policy at work: its schedule, its probe, and the state of each of its targets.

The runner measures on the policy's interval (or at once when the probe's watch()
reports a change, or when a verification is due), feeds each target's fields to the
pure functions in :mod:`medic.engine.state`, asks the gate before acting (silences,
dependencies, then limits), asks a human first when the policy needs approval, and
starts remediations as tasks of their own so no target waits for another. Every
escalation passes the silences on its way out: a silenced one is audited, not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import structlog

from medic.audit.events import AuditEvent, Kind, Reason
from medic.engine import probehealth as ph
from medic.engine import state as st
from medic.engine.asking import Asking
from medic.engine.context import EngineContext
from medic.engine.limits import (
    Verdict,
    check_blast_radius,
    check_dependencies,
    check_rate,
    check_silence,
)
from medic.engine.remediation import build_actions, run_steps
from medic.engine.silences import Silence
from medic.policy.model import Policy
from medic.probes.base import Measurement, Probe, probes

log = structlog.get_logger("medic.runner")

WATCH_RETRY = 5.0
# The scheduler's hard stop comes a little after a probe's own timeout, so a probe that
# handles its timeout (a Nagios check reports "unknown") gets to say so first.
PROBE_GRACE = 0.5


class PolicyRunner:
    def __init__(
        self,
        policy: Policy,
        engine: EngineContext,
        states: dict[str, st.TargetState] | None = None,
    ) -> None:
        self.policy = policy
        self.engine = engine
        cls = probes.get(policy.probe.type)
        if cls is None:  # the loader rejects unknown types; a plugin may have vanished
            raise KeyError(policy.probe.type)
        self.probe: Probe = cls(policy.probe.options)
        self.probe.timeout = policy.probe.timeout  # type: ignore[attr-defined]
        self.steps = build_actions(policy)
        self.states: dict[str, st.TargetState] = states or {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.selected = 0
        self.last_error: str | None = None
        self.last_lag = 0.0
        self._wake = asyncio.Event()
        self._scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._was_empty: bool | None = None
        inherited = engine.inherited_incidents.pop((policy.name, ph.PROBE_TARGET), None)
        self.health = ph.inherited(inherited)
        self.asking = Asking(self)

    @property
    def dry_run(self) -> bool:
        return self.engine.dry_run or self.policy.dry_run

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._schedule(), name=f"policy:{self.policy.name}")
        if self.probe.watches:
            self._watch_task = loop.create_task(self._watch(), name=f"watch:{self.policy.name}")

    async def stop(self) -> None:
        """Stop scheduling; remediations already running finish on their own."""
        for task in (self._loop_task, self._watch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(Exception):
            await self.probe.close()

    async def cancel_remediations(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def trigger(self) -> None:
        """Evaluate now instead of at the next interval."""
        self._wake.set()

    # -- scheduling ------------------------------------------------------------------

    def _due(self) -> None:
        self._scheduled = True
        self._wake.set()

    async def _schedule(self) -> None:
        loop = asyncio.get_running_loop()
        every = self.policy.probe.every
        # Spread policies over their interval so a thousand do not all wake at once.
        next_due = loop.time() + random.uniform(0, min(every, 2.0))  # noqa: S311 - jitter
        while True:
            handle = loop.call_at(next_due, self._due)
            try:
                await self._wake.wait()
            finally:
                handle.cancel()
            self._wake.clear()
            if self._scheduled:
                self._scheduled = False
                lag = max(0.0, loop.time() - next_due)
                self.last_lag = lag
                self.engine.metrics.scheduler_lag.observe(lag)
                next_due += every
                if next_due <= loop.time():  # fell behind: skip, never burst
                    next_due = loop.time() + every
            await self.evaluate()

    async def _watch(self) -> None:
        while True:
            try:
                async for _target in self.probe.watch():
                    self.trigger()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken event stream must not stop polling
                log.warning("watch_failed", policy=self.policy.name, error=str(exc))
            await asyncio.sleep(WATCH_RETRY)

    # -- evaluation ------------------------------------------------------------------

    async def evaluate(self) -> None:
        measurement = await self._measure()
        if measurement is None:
            return
        now = self.engine.clock.wall()
        self._note_selection(measurement, now)
        self.selected = len(measurement)
        for target, fields in measurement.items():
            self._observe(target, fields, now)
        for target in [t for t in self.states if t not in measurement]:
            tr = st.vanish(self.states[target], now)
            self.apply(target, self.states[target], tr)
            if tr.state.incident is None and tr.state.phase == st.Phase.OK:
                del self.states[target]

    async def _measure(self) -> Measurement | None:
        kind = self.policy.probe.type
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(
                self.probe.measure(), self.policy.probe.timeout + PROBE_GRACE
            )
        except TimeoutError:
            self._probe_failed(f"timed out after {self.policy.probe.timeout:g}s", "timeout")
            return None
        except Exception as exc:  # any probe failure is audited, never fatal
            self._probe_failed(f"{type(exc).__name__}: {exc}", "error")
            return None
        finally:
            self.engine.metrics.probe_duration.labels(kind).observe(time.perf_counter() - started)
        self.engine.metrics.probe_runs.labels(kind, "ok").inc()
        if self.last_error is not None:
            self._emit(None, Kind.PROBE_RECOVERED, None, {"after": self.last_error})
            self.last_error = None
        if self.health != ph.ProbeHealth():
            self._apply_health(ph.recovered(self.health))
        return result

    def _probe_failed(self, error: str, outcome: str) -> None:
        self.engine.metrics.probe_runs.labels(self.policy.probe.type, outcome).inc()
        if error != self.last_error:  # audit each new failure, not every repeat
            self._emit(None, Kind.PROBE_FAILED, None, {"error": error}, outcome=outcome)
        self.last_error = error
        self._apply_health(ph.failed(self.health, self.policy, error))

    def _apply_health(self, change: ph.HealthChange) -> None:
        """Audit a change of the probe's health and tell humans when it calls for it."""
        silence = None
        if change.escalate is not None and not change.escalate.resolve:
            silence = self._silence(ph.PROBE_TARGET, self.engine.clock.wall())
            if silence is not None:
                change = ph.hush(self.health, change, silence.id)
        incident = change.health.incident or self.health.incident
        self.health = change.health
        for note in change.notes:
            self._emit(ph.PROBE_TARGET, note.kind, incident, note.details, note.outcome)
        if change.escalate is not None:
            self._page(ph.PROBE_TARGET, incident, change.escalate, {}, silence)

    def _note_selection(self, measurement: Measurement, now: float) -> None:
        empty = not measurement
        if empty and self._was_empty is not True:
            self._emit(
                None,
                Kind.SELECTION_EMPTY,
                None,
                {"note": "the probe selected no targets; nothing is acted on"},
            )
        self._was_empty = empty

    def _observe(self, target: str, fields: Mapping[str, Any], now: float) -> None:
        old = self.states.get(target, st.TargetState(since=now))
        inherited = self.engine.inherited_incidents.pop((self.policy.name, target), None)
        paged = inherited is not None and inherited in self.engine.inherited_escalated
        if paged:  # a human already knows: do not page again, and owe them a resolve
            old = replace(old, escalated=True)
        tr = st.observe(old, self.policy, fields, now, incident_id=inherited)
        if inherited and tr.state.incident != inherited:
            # The agent restarted with this incident open and the problem is gone.
            reason = "cleared while the agent was not running"
            self._emit(
                target,
                Kind.CLEARED,
                inherited,
                {"reason": reason},
                outcome="cleared",
                values=fields,
            )
            if paged:
                request = st.Escalate("cleared", reason, resolve=True)
                self._page(target, inherited, request, fields, None)
            tr = replace(tr, state=replace(tr.state, escalated=False))
        self.apply(target, old, tr)
        if tr.wants_action:
            self.try_act(target, now)

    def apply(self, target: str, old: st.TargetState, tr: st.Transition) -> None:
        """Take transition ``tr`` of ``target``: audit its notes, page, keep requests in step."""
        now = self.engine.clock.wall()
        silence = None
        if tr.escalate is not None and not tr.escalate.resolve:
            silence = self._silence(target, now)
            if silence is not None:
                tr = st.hush(old, tr, silence.id)
        self.states[target] = tr.state
        incident = tr.state.incident or old.incident
        for note in tr.notes:
            self._emit(target, note.kind, incident, note.details, note.outcome, tr.state.values)
        if tr.escalate is not None:
            owed = self.policy.approval_notify if old.asked else ()
            self._page(target, incident, tr.escalate, tr.state.values, silence, owed)
        self.asking.ended(old, tr.state, now)
        if tr.state.incident is None:
            self.history.pop(target, None)

    def _page(
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
        if request.resolve:
            notify = tuple(dict.fromkeys((*notify, *also)))
        if request.silenced_by is not None and silence is not None:
            details = {
                "reason": request.reason,
                "summary": request.summary,
                "notify": list(notify),
                "silence": silence.summary(),
            }
            self._emit(target, Kind.ESCALATED, incident, details, "silenced", values)
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
        )

    def _silence(self, target: str, now: float) -> Silence | None:
        return self.engine.silences.active(self.policy.name, target, self.policy.labels, now)

    # -- acting ------------------------------------------------------------------------

    def _gate(self, target: str, now: float) -> Verdict:
        engine, limits, dry = self.engine, self.policy.limits, self.dry_run
        verdict = check_silence(self._silence(target, now))
        if not verdict.allowed:
            return verdict
        verdict = check_dependencies(self.policy.depends_on, engine.firing)
        if not verdict.allowed:
            return verdict
        if not dry and engine.breaker is not None:
            verdict, note = engine.breaker.check(engine.ledger, now)
            if note is not None:
                self._emit(None, note.kind, None, note.details, note.outcome, policy=False)
            if not verdict.allowed:
                return verdict
        verdict = check_rate(limits, engine.ledger, self.policy.name, target, dry=dry, now=now)
        if not verdict.allowed:
            return verdict
        active = sum(1 for s in self.states.values() if s.active)
        verdict = check_blast_radius(limits, active, self.selected)
        if not verdict.allowed:
            return verdict
        cap = engine.limits.max_concurrent_actions
        if not dry and engine.running_actions >= cap:
            return Verdict(
                False, Reason.CONCURRENCY, {"running": engine.running_actions, "cap": cap}
            )
        return Verdict(True)

    def try_act(self, target: str, now: float) -> None:
        """The target wants an action: through the gate, then (if needed) a human, then act."""
        state = self.states[target]
        verdict = self._gate(target, now)
        if not verdict.allowed:
            assert verdict.reason is not None
            self.engine.metrics.suppressions.labels(verdict.reason.value).inc()
            tr = st.suppress(state, self.policy, verdict.reason.value, now, verdict.details)
            self.apply(target, state, tr)
            return
        if self.policy.approval is not None and state.approval != "granted":
            self.asking.consult(target, state, now)
            return
        self.act(target, state, now)

    def act(self, target: str, state: st.TargetState, now: float) -> None:
        """Record the attempt against the limits and start the steps as a task."""
        if self.dry_run:
            self.engine.metrics.suppressions.labels(Reason.DRY_RUN.value).inc()
        self.engine.ledger.record(self.policy.name, target, now, dry=self.dry_run)
        admitted = st.admit(state, now)
        self.states[target] = admitted
        task = asyncio.get_running_loop().create_task(self._remediate(target, admitted))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _remediate(self, target: str, state: st.TargetState) -> None:
        assert state.incident is not None
        with structlog.contextvars.bound_contextvars(
            policy=self.policy.name, target=target, incident=state.incident
        ):
            outcomes = await run_steps(
                self.engine,
                self.policy,
                self.steps,
                target=target,
                incident=state.incident,
                fields=state.values,
                attempt=state.attempts,
                dry_run=self.dry_run,
            )
        self.history.setdefault(target, []).extend(o.as_history() for o in outcomes)
        current = self.states.get(target, state)
        self.states[target] = st.finish(current, self.policy, self.engine.clock.wall())
        loop = asyncio.get_running_loop()
        # A little slack: the wall clock the state compares against may trail the loop clock.
        loop.call_later(self.policy.verify.after + 0.01, self.trigger)

    # -- audit -------------------------------------------------------------------------

    def _emit(
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
