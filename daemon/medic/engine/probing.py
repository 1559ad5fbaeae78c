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
from dataclasses import dataclass
from typing import Any

import structlog

from medic.actions.placeholders import placeholders
from medic.engine.context import EngineContext
from medic.policy.model import Policy
from medic.probes.base import LOOP_BUDGET, SLOW_READS, Measurement, Probe

log = structlog.get_logger("medic.runner")

# The scheduler's hard stop comes a little after a probe's own timeout, so a probe that
# handles its timeout (a Nagios check reports "unknown") gets to say so first.
PROBE_GRACE = 0.5


@dataclass(frozen=True)
class Reading:
    """One probe run: its measurement, or the error it failed with and how
    (``timeout``, ``error``)."""

    measurement: Measurement | None = None
    error: str | None = None
    outcome: str = "ok"


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
    """One runner's probe, measured under its timeout, on the loop or in a thread."""

    def __init__(self, probe: Probe, policy: Policy, engine: EngineContext) -> None:
        probe.uses(fields_read(policy))
        self.probe = probe
        self.policy = policy
        self.engine = engine
        self.on_loop = probe.runs_on_loop
        self._slow_reads = 0
        # The labelled metric children, looked up once: a label lookup per run is the hot path.
        kind = policy.probe.type
        self._duration = engine.metrics.probe_duration.labels(kind)
        self._runs_ok = engine.metrics.probe_runs.labels(kind, "ok")

    async def measure(self) -> Reading | None:
        """The probe's reading (its measurement, or its error, counted), or None when
        the agent is stopping: a probe cut short by the stop is no news."""
        if self.engine.stopping:
            return None
        spec = self.policy.probe
        started = time.perf_counter()
        try:
            result = self._read() if self.on_loop else None
            if result is None:
                async with asyncio.timeout(spec.timeout + PROBE_GRACE):
                    result = await self.probe.measure()
        except TimeoutError:
            return self._failed(f"timed out after {spec.timeout:g}s", "timeout")
        except Exception as exc:  # any probe failure is audited, never fatal
            return self._failed(f"{type(exc).__name__}: {exc}", "error")
        finally:
            self._duration.observe(time.perf_counter() - started)
        if self.engine.stopping:  # the agent began to stop while the probe ran
            return None
        self._runs_ok.inc()
        return Reading(result)

    def _failed(self, error: str, outcome: str) -> Reading | None:
        if self.engine.stopping:
            return None
        self.engine.metrics.probe_runs.labels(self.policy.probe.type, outcome).inc()
        return Reading(error=error, outcome=outcome)

    def _read(self) -> Measurement | None:
        """A cheap probe's reading, taken on the loop and timed; raises TimeoutError when
        it overran the probe's timeout (it blocked the loop meanwhile)."""
        timeout = self.policy.probe.timeout
        started = time.perf_counter()
        try:
            return self.probe.read()
        finally:
            spent = time.perf_counter() - started
            self._slow_reads = self._slow_reads + 1 if spent > LOOP_BUDGET else 0
            if self._slow_reads >= SLOW_READS or spent > timeout:
                self.on_loop = False
                log.warning(
                    "probe.moved_to_thread",
                    policy=self.policy.name,
                    probe=self.policy.probe.type,
                    read_ms=round(spent * 1000, 1),
                )
            if spent > timeout:
                raise TimeoutError
