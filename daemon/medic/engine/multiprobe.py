"""The probe a runner reads: the policy's one ``probe:``, or its named ``probes:`` as one.

With ``probes: {app: {...}, deploy: {...}}`` every evaluation measures all of them at
once, each under its own timeout. The first named gives the targets; each other one is
context: its one target's fields are shared by every target. A target's fields are
then ``{"app": {...its own...}, "deploy": {...the context's...}}``, which conditions
read as ``app.error_rate`` and ``deploy.since_deploy``. Any probe failing (or a context
probe yielding no target, or several) fails the whole measurement, so a condition is
never judged on half its inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from medic.deadline import within
from medic.errors import ProbeError
from medic.policy.model import Policy, ProbeSpec
from medic.probes.base import Measurement, Probe, probes

# How much longer a named probe may take than its own timeout before it is cut off.
GRACE = 0.5


def new_probe(spec: ProbeSpec, policy_name: str | None = None) -> Probe:
    """An instance of the probe ``spec`` names, with its timeout and policy set.

    A probe that keeps state per policy (a scheduled job's last run) names its file
    with ``policy_name``.
    """
    cls = probes.get(spec.type)
    if cls is None:  # the loader rejects unknown types; a plugin may have vanished
        raise KeyError(spec.type)
    probe = cls(spec.options)
    probe.timeout = spec.timeout
    probe.policy_name = policy_name
    return probe


def make_probe(policy: Policy) -> Probe:
    """The probe the policy's runner measures with."""
    if policy.probes:
        members = {name: new_probe(spec, policy.name) for name, spec in policy.probes}
        return MultiProbe(members, policy.probes)
    return new_probe(policy.probe, policy.name)


class MultiProbe(Probe):
    """Several named probes measured together; the first one's targets are the targets."""

    def __init__(
        self, members: Mapping[str, Probe], specs: tuple[tuple[str, ProbeSpec], ...]
    ) -> None:
        super().__init__({})
        self.members = dict(members)
        self.timeouts = {name: spec.timeout for name, spec in specs}
        self.context_targets: dict[str, str] = {}
        self.watches = any(p.watches for p in self.members.values())  # type: ignore[misc]

    async def _one(self, name: str) -> Measurement:
        limit = self.timeouts.get(name, 10.0)
        try:
            return await within(self.members[name].measure(), limit + GRACE)
        except TimeoutError:
            raise ProbeError(f"probe {name!r} timed out after {limit:g}s") from None
        except ProbeError as exc:
            raise ProbeError(f"probe {name!r}: {exc.message}") from exc
        except Exception as exc:
            raise ProbeError(f"probe {name!r}: {type(exc).__name__}: {exc}") from exc

    async def measure(self) -> Measurement:
        names = list(self.members)
        results = await asyncio.gather(*(self._one(n) for n in names), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        readings: dict[str, Measurement] = dict(zip(names, results, strict=True))  # type: ignore[arg-type]
        context: dict[str, dict[str, Any]] = {}
        for name in names[1:]:
            self.context_targets[name], context[name] = single(name, readings[name])
        first = names[0]
        return {
            target: {first: dict(fields), **context} for target, fields in readings[first].items()
        }

    def acted(self, target: str, at: float) -> None:
        first, *_ = self.members.values()
        first.acted(target, at)
        for name, shared in self.context_targets.items():  # one target, shared by all
            self.members[name].acted(shared, at)

    async def watch(self) -> AsyncIterator[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        first = next(iter(self.members.values()))

        async def pump(probe: Probe) -> None:
            async for target in probe.watch():
                await queue.put(target if probe is first else None)

        tasks = [asyncio.create_task(pump(p)) for p in self.members.values() if p.watches]
        try:
            while True:
                yield await queue.get()
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def close(self) -> None:
        for probe in self.members.values():
            with contextlib.suppress(Exception):
                await probe.close()


def single(name: str, measurement: Measurement) -> tuple[str, dict[str, Any]]:
    """A context probe's one target and its fields; anything else fails the measurement."""
    if len(measurement) == 1:
        ((target, fields),) = measurement.items()
        return target, dict(fields)
    if not measurement:
        raise ProbeError(f"probe {name!r} selected no target; a context probe needs exactly one")
    listed = ", ".join(sorted(measurement)[:5])
    raise ProbeError(
        f"probe {name!r} selected {len(measurement)} targets ({listed}); "
        "a context probe needs exactly one"
    )
