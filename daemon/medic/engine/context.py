"""What every policy runner shares: one per agent, handed to each runner."""

from __future__ import annotations

from dataclasses import dataclass, field

from medic.audit.store import AuditStore
from medic.clock import Clock
from medic.config import GlobalLimits
from medic.engine.escalation import Escalator
from medic.engine.limits import Breaker, Ledger
from medic.metrics import Metrics


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

    def __post_init__(self) -> None:
        if self.breaker is None:
            self.breaker = Breaker(self.limits.breaker)
