"""A runner's probe at work: measured under its timeout, its failures audited and counted.

A failed measurement is about Medic's sight, not about a target: each new error is
audited once (a repeat of the same error is not), the run is counted in the probe
metrics, and :mod:`medic.engine.probehealth` decides when humans must hear that Medic
cannot see; that escalation goes through the runner, so silences apply to it as to
any other. The first good measurement after a failure audits the recovery, and a
measurement that selects no target at all is audited once, when that starts.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from medic.audit.events import Kind
from medic.engine import probehealth as ph
from medic.probes.base import Measurement

if TYPE_CHECKING:
    from medic.engine.runner import PolicyRunner

# The scheduler's hard stop comes a little after a probe's own timeout, so a probe that
# handles its timeout (a Nagios check reports "unknown") gets to say so first.
PROBE_GRACE = 0.5


class Probing:
    """One runner's measurements and what their failures mean."""

    def __init__(self, runner: PolicyRunner) -> None:
        self.runner = runner
        self.engine = runner.engine
        self._was_empty: bool | None = None

    async def measure(self) -> Measurement | None:
        """The probe's measurement, or None when it failed (audited, counted, maybe paged).
        A measurement that selects no target is audited when it starts to."""
        runner, spec = self.runner, self.runner.policy.probe
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(runner.probe.measure(), spec.timeout + PROBE_GRACE)
        except TimeoutError:
            self.failed(f"timed out after {spec.timeout:g}s", "timeout")
            return None
        except Exception as exc:  # any probe failure is audited, never fatal
            self.failed(f"{type(exc).__name__}: {exc}", "error")
            return None
        finally:
            self.engine.metrics.probe_duration.labels(spec.type).observe(
                time.perf_counter() - started
            )
        self.engine.metrics.probe_runs.labels(spec.type, "ok").inc()
        if runner.last_error is not None:
            runner.emit(None, Kind.PROBE_RECOVERED, None, {"after": runner.last_error})
            runner.last_error = None
        if runner.health != ph.ProbeHealth():
            self.apply_health(ph.recovered(runner.health))
        self._note_selection(result)
        return result

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
