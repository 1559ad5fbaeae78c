"""A runner's probe at work: measured under its timeout, its failures audited and counted.

A cheap probe (``runs_on_loop``) is read on the event loop itself, with no hop to a
worker thread; every read is timed, and a probe whose reads keep overrunning
:data:`~medic.probes.base.LOOP_BUDGET` (or overran the probe's timeout once) is moved
to a worker thread for good. Any other probe is awaited under its timeout with
``asyncio.timeout``, which, unlike ``asyncio.wait_for`` on Python 3.11, never
swallows a cancellation that arrives as the probe finishes: stopping the agent always
stops its runners. Once the agent is stopping nothing is measured any more, so
nothing is acted on either.

A failed measurement is about Medic's sight, not about a target: each new error is
audited once (a repeat of the same error is not), the run is counted in the probe
metrics, and :mod:`medic.engine.core.probehealth` decides when humans must hear that Medic
cannot see; that escalation goes through the runner, so silences apply to it as to
any other. The first good measurement after a failure audits the recovery, and a
measurement that selects no target at all is audited once, when that starts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from medic.actions.placeholders import placeholders
from medic.audit.events import Kind
from medic.engine.core import probehealth as ph
from medic.policy.model import Policy
from medic.probes.base import LOOP_BUDGET, SLOW_READS, Measurement

if TYPE_CHECKING:
    from medic.engine.runner import PolicyRunner

log = structlog.get_logger("medic.runner")

# The scheduler's hard stop comes a little after a probe's own timeout, so a probe that
# handles its timeout (a Nagios check reports "unknown") gets to say so first.
PROBE_GRACE = 0.5
HEALTHY = ph.ProbeHealth()


def fields_read(policy: Policy) -> frozenset[str]:
    """The probe fields a policy reads: named in ``when`` or ``clear_when``, or filled
    into a step as a ``{placeholder}`` (a dotted name counts as its first part)."""
    names = set(policy.when.names)
    if policy.clear_when is not None:
        names.update(policy.clear_when.names)
    for step in policy.remediate:
        for text in _strings(step.options):
            names.update(placeholders(text))
    return frozenset(name.split(".", 1)[0] for name in names)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


class Probing:
    """One runner's measurements and what their failures mean."""

    def __init__(self, runner: PolicyRunner) -> None:
        runner.probe.uses(fields_read(runner.policy))
        self.runner = runner
        self.engine = runner.engine
        self._was_empty: bool | None = None
        self.on_loop = runner.probe.runs_on_loop
        self._slow_reads = 0
        # The labelled metric children, looked up once: a label lookup per run is the hot path.
        kind = runner.policy.probe.type
        self._duration = self.engine.metrics.probe_duration.labels(kind)
        self._runs_ok = self.engine.metrics.probe_runs.labels(kind, "ok")

    async def measure(self) -> Measurement | None:
        """The probe's measurement, or None when it failed (audited, counted, maybe paged)
        or the agent is stopping. A measurement that selects no target is audited when
        it starts to."""
        if self.engine.stopping:
            return None
        runner, spec = self.runner, self.runner.policy.probe
        started = time.perf_counter()
        try:
            result = self._read() if self.on_loop else None
            if result is None:
                async with asyncio.timeout(spec.timeout + PROBE_GRACE):
                    result = await runner.probe.measure()
        except TimeoutError:
            self.failed(f"timed out after {spec.timeout:g}s", "timeout")
            return None
        except Exception as exc:  # any probe failure is audited, never fatal
            self.failed(f"{type(exc).__name__}: {exc}", "error")
            return None
        finally:
            self._duration.observe(time.perf_counter() - started)
        if self.engine.stopping:  # the agent began to stop while the probe ran
            return None
        self._runs_ok.inc()
        if runner.last_error is not None:
            runner.emit(None, Kind.PROBE_RECOVERED, None, {"after": runner.last_error})
            runner.last_error = None
        if runner.health is not HEALTHY:  # identity first: this runs on every measurement
            if runner.health != HEALTHY:
                self.apply_health(ph.recovered(runner.health))
            else:
                runner.health = HEALTHY
        self._note_selection(result)
        return result

    def _read(self) -> Measurement | None:
        """A cheap probe's reading, taken on the loop and timed; raises TimeoutError when
        it overran the probe's timeout (it blocked the loop meanwhile)."""
        timeout = self.runner.policy.probe.timeout
        started = time.perf_counter()
        try:
            return self.runner.probe.read()
        finally:
            spent = time.perf_counter() - started
            self._slow_reads = self._slow_reads + 1 if spent > LOOP_BUDGET else 0
            if self._slow_reads >= SLOW_READS or spent > timeout:
                self.on_loop = False
                log.warning(
                    "probe.moved_to_thread",
                    policy=self.runner.policy.name,
                    probe=self.runner.policy.probe.type,
                    read_ms=round(spent * 1000, 1),
                )
            if spent > timeout:
                raise TimeoutError

    def _note_selection(self, measurement: Measurement) -> None:
        empty = not measurement
        if empty and self._was_empty is not True:
            self.runner.emit(
                None,
                Kind.SELECTION_EMPTY,
                None,
                {"note": "the probe selected no targets; nothing is acted on"},
            )
        self._was_empty = empty

    def failed(self, error: str, outcome: str) -> None:
        if self.engine.stopping:  # a probe cut short by the stop is no news
            return
        runner = self.runner
        self.engine.metrics.probe_runs.labels(runner.policy.probe.type, outcome).inc()
        if error != runner.last_error:  # audit each new failure, not every repeat
            runner.emit(None, Kind.PROBE_FAILED, None, {"error": error}, outcome=outcome)
        runner.last_error = error
        self.apply_health(ph.failed(runner.health, runner.policy, error))

    def apply_health(self, change: ph.HealthChange) -> None:
        """Audit a change of the probe's health and tell humans when it calls for it."""
        runner = self.runner
        silence = None
        if change.escalate is not None and not change.escalate.resolve:
            silence = runner.active_silence(ph.PROBE_TARGET, self.engine.clock.wall())
            if silence is not None:
                change = ph.hush(runner.health, change, silence.id)
        incident = change.health.incident or runner.health.incident
        runner.health = change.health
        for note in change.notes:
            runner.emit(ph.PROBE_TARGET, note.kind, incident, note.details, note.outcome)
        if change.escalate is not None:
            runner.page(ph.PROBE_TARGET, incident, change.escalate, {}, silence)
