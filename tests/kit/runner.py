"""A real PolicyRunner on a real audit store, with a probe and an action tests drive.

Time is a FakeClock moved by hand; the runner's schedule loop never starts: tests call
``evaluate()`` themselves and ``settle()`` to let remediation tasks finish. A test
module gets the ``kit`` fixture by importing ``kit_fixture`` from here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_asyncio

from medic.actions.base import Action, ActionContext, ActionResult, actions
from medic.audit.events import AuditEvent
from medic.audit.store import AuditStore
from medic.clock import FakeClock
from medic.config import GlobalLimits
from medic.engine.context import EngineContext
from medic.engine.core.state import Escalate
from medic.engine.remediation import StepOutcome, build_actions, run_steps
from medic.engine.runner import PolicyRunner
from medic.errors import ProbeError
from medic.metrics import Metrics
from medic.policy.loader import load_text
from medic.policy.model import Policy, Step
from medic.probes.base import Measurement, Probe, probes

T0 = 1_700_000_000.0


class ValueProbe(Probe):
    """A probe whose readings (or failure) the test sets on the instance."""

    dynamic_fields = True

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self.readings: dict[str, dict[str, Any]] = {}
        self.error: str | None = None

    async def measure(self) -> Measurement:
        if self.error is not None:
            raise ProbeError(self.error)
        return {target: dict(fields) for target, fields in self.readings.items()}


class RecordAction(Action):
    """An action that records each run and succeeds."""

    runs: ClassVar[list[str]] = []

    async def run(self, ctx: ActionContext) -> ActionResult:
        RecordAction.runs.append(ctx.target)
        return ActionResult(ok=True, summary="recorded")


@dataclass
class FakeEscalator:
    """Records escalate() calls instead of queueing notifications."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    channels: dict[str, Any] = field(default_factory=dict)

    def escalate(self, **kw: Any) -> None:
        self.calls.append(kw)

    def reasons(self) -> list[str]:
        request: Escalate
        return [
            ("resolve:" if (request := c["request"]).resolve else "") + request.reason
            for c in self.calls
        ]


@dataclass
class Kit:
    engine: EngineContext
    clock: FakeClock
    escalator: FakeEscalator
    events: list[AuditEvent]

    def runner(self, policy: Policy) -> PolicyRunner:
        return PolicyRunner(policy, self.engine)

    def kinds(self, target: str | None = None) -> list[str]:
        return [e.kind.value for e in self.events if target is None or e.target == target]

    def of(self, kind: str) -> list[AuditEvent]:
        return [e for e in self.events if e.kind.value == kind]


def record_steps(n: int = 1) -> tuple[Step, ...]:
    return tuple(Step("test.record", {}, 10.0) for _ in range(n))


async def settle(runner: PolicyRunner) -> None:
    """Let remediation tasks and background writes finish."""
    for _ in range(3):
        if runner._tasks:
            await asyncio.gather(*list(runner._tasks))
        await asyncio.sleep(0)
    await runner.engine.drain_writes()


def load_policy(text: str, file: str) -> Policy:
    """The first policy of a policy file's ``text``; any load error fails the test."""
    result = load_text(text, file)
    assert result.errors == (), [str(e) for e in result.errors]
    return result.policies[0]


async def run_policy_steps(kit: Kit, policy: Policy, *, dry_run: bool = False) -> list[StepOutcome]:
    """Run ``policy``'s steps once (target ``t``, incident ``i``, attempt 1), every audit
    write done before it returns."""
    outcomes = await run_steps(
        kit.engine,
        policy,
        build_actions(policy),
        target="t",
        incident="i",
        fields={},
        attempt=1,
        dry_run=dry_run,
    )
    await kit.engine.drain_writes()
    return outcomes


@pytest_asyncio.fixture(name="kit")
async def kit_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kit]:
    """An engine over a fresh audit DB, with the test probe and action registered."""
    async with open_kit(tmp_path / "audit.db", monkeypatch) as kit:
        yield kit


@contextlib.asynccontextmanager
async def open_kit(db: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Kit]:
    """An engine over the audit DB at ``db``, with the test probe and action registered."""
    monkeypatch.setitem(probes._items, "test.value", ValueProbe)
    monkeypatch.setitem(actions._items, "test.record", RecordAction)
    monkeypatch.setattr(RecordAction, "runs", [])
    ValueProbe.type_name = "test.value"
    RecordAction.type_name = "test.record"
    clock = FakeClock(T0)
    audit = AuditStore(db, host="h")
    await audit.start()
    events: list[AuditEvent] = []
    audit.on_event(events.append)
    escalator = FakeEscalator()
    engine = EngineContext(
        clock=clock,
        audit=audit,
        metrics=Metrics(),
        escalator=escalator,  # type: ignore[arg-type]
        limits=GlobalLimits(),
        host="h",
        public_url="http://medic.example:9325",
    )
    try:
        yield Kit(engine, clock, escalator, events)
    finally:
        await engine.drain_writes()
        await engine.alarm.stop()
        await audit.close()
