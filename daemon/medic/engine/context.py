"""What every policy runner shares: one per agent, handed to each runner."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from medic.audit.store import AuditStore
from medic.clock import Clock
from medic.config import GlobalLimits
from medic.engine.audit_alarm import AuditAlarm
from medic.engine.core.approvals import ApprovalBook
from medic.engine.core.limits import Breaker, Ledger, always_seen
from medic.engine.core.silences import SilenceBook
from medic.engine.escalation import Escalator
from medic.engine.pager import Pager
from medic.engine.samples import SampleKeeper
from medic.fleet.budget import Budgets
from medic.metrics import Metrics

log = structlog.get_logger("medic.engine")


def _nothing_fires(policy: str) -> Sequence[str]:
    return ()


class Timer(Protocol):
    """Something to cancel: what :data:`WakeLater` returns."""

    def cancel(self) -> None: ...


# Call ``fn`` in ``delay`` seconds. The agent uses the event loop; ``medic test`` runs the
# same runners on simulated time and hands in its own.
WakeLater = Callable[[float, Callable[[], None]], Timer]


def _loop_wake_later(delay: float, fn: Callable[[], None]) -> Timer:
    return asyncio.get_running_loop().call_later(delay, fn)


@dataclass
class EngineContext:
    clock: Clock
    audit: AuditStore
    metrics: Metrics
    escalator: Escalator
    limits: GlobalLimits
    host: str
    dry_run: bool = False
    ledger: Ledger = field(default_factory=Ledger)
    breaker: Breaker | None = None
    running_actions: int = 0
    # (policy, target) -> incident id left open by a previous run of the agent.
    inherited_incidents: dict[tuple[str, str], str] = field(default_factory=dict)
    # The inherited incidents a human was paged about: no second page, and a resolve is owed.
    inherited_escalated: set[str] = field(default_factory=set)
    silences: SilenceBook = field(default_factory=SilenceBook)
    approvals: ApprovalBook = field(default_factory=ApprovalBook)
    # Incidents that paged, and the on-call levels they still owe.
    pager: Pager = field(default_factory=Pager)
    # The targets of a policy (by name) whose incident is firing; the agent knows them.
    firing: Callable[[str], Sequence[str]] = _nothing_fires
    # Whether a policy (by name) has not measured yet: its dependents wait for it.
    unseen: Callable[[str], bool] = always_seen
    # Where people reach the API: approve and deny links point there.
    public_url: str = "http://127.0.0.1:9325"
    # Up while the audit log cannot be written: then nothing acts.
    alarm: AuditAlarm = field(init=False)
    # Runners with a target waiting for an action slot (the concurrency cap, the blast
    # radius): each is woken once when a remediation ends.
    waiting: set[Callable[[], None]] = field(default_factory=set)
    # How runners ask to be woken later (a verification due, a cooldown ending).
    wake_later: WakeLater = _loop_wake_later
    # What probes measured: window rings and the recording (the agent's persists them).
    samples: SampleKeeper = field(default_factory=SampleKeeper)
    # The fleet's disruption budgets in etcd (agent config ``fleet:``); None: not in a fleet.
    fleet: Budgets | None = None
    # Set when the agent begins to stop: from then on no runner measures or acts.
    stopping: bool = False
    _writes: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.breaker is None:
            self.breaker = Breaker(self.limits.breaker)
        self.alarm = AuditAlarm(self.audit, self.escalator.channels, self.clock, self.host)

    @property
    def unwritable(self) -> dict[str, Any] | None:
        """Why the audit log cannot be written now (None: it can): the gate reads it."""
        outage = self.alarm.outage
        return None if outage is None else outage.as_dict()

    def slot_freed(self) -> None:
        """A remediation ended: every runner that waited for a slot evaluates again."""
        waiters, self.waiting = self.waiting, set()
        for wake in waiters:
            wake()

    def persist(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        """Write a row of another table (approvals) in the background: the runner's
        decisions never wait for SQLite, and the memory copy is already up to date."""
        task = asyncio.get_running_loop().create_task(self._persist(fn))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _persist(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        try:
            await self.audit.write(fn)
        except Exception as exc:  # the audit events still tell the story
            log.error("state.persist_failed", error=str(exc))

    async def drain_writes(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - a bound, not a deadline
        """Let background writes commit before the store closes."""
        if self._writes:
            await asyncio.wait(self._writes, timeout=timeout)
