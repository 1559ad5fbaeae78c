"""The records the engine's state machine passes around, for one target under one policy.

:class:`TargetState` is where a target stands (its :class:`Phase`, incident, attempts,
approval, the values last measured); a :class:`Transition` is the new state with the
audit :class:`Note` s it calls for, whether it wants an action, and an
:class:`Escalate` request when humans must hear of it. The functions that compute
transitions are in :mod:`medic.engine.core.state`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

from medic.audit.events import Kind


class Phase(StrEnum):
    OK = "ok"
    PENDING = "pending"
    FIRING = "firing"
    AWAITING_APPROVAL = "awaiting_approval"
    REMEDIATING = "remediating"
    VERIFYING = "verifying"


# Phases in which a target's incident counts as firing (for ``depends_on``).
FIRING_PHASES = frozenset(
    {Phase.FIRING, Phase.AWAITING_APPROVAL, Phase.REMEDIATING, Phase.VERIFYING}
)


@dataclass(frozen=True)
class Note:
    """An audit event the transition calls for (the runner adds policy, target, time)."""

    kind: Kind
    outcome: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Escalate:
    """A request to tell humans; ``resolve`` when an escalated incident healed."""

    reason: str
    summary: str
    resolve: bool = False
    # Channels to use instead of the policy's escalate.notify (approval.notify).
    notify: tuple[str, ...] = ()
    # (label, url) pairs the notification carries, e.g. approve and deny.
    links: tuple[tuple[str, str], ...] = ()
    # The silence that held it back: audited, delivered to nobody.
    silenced_by: str | None = None


class Change(Protocol):
    """A change that may tell humans: a target's :class:`Transition` or the probe's
    health change. The runner settles every one the same way (silence, audit, page)."""

    @property
    def notes(self) -> tuple[Note, ...]: ...

    @property
    def escalate(self) -> Escalate | None: ...


@dataclass(frozen=True)
class TargetState:
    phase: Phase = Phase.OK
    since: float = 0.0
    incident: str | None = None
    detected_at: float | None = None
    attempts: int = 0
    failures: int = 0
    escalated: bool = False
    verify_at: float | None = None
    last_suppression: str | None = None
    last_suppression_at: float = 0.0
    suppressed_repeats: int = 0
    values: Mapping[str, Any] = field(default_factory=dict)
    # The incident's approval: None, requested, granted, denied, expired, closed.
    approval: str | None = None
    approval_expires: float | None = None
    # Someone was asked for approval: a resolve is owed when the incident ends.
    asked: bool = False
    # The silence under which an escalation was last held back (audited once per silence).
    hushed: str | None = None

    def with_values(self, values: Mapping[str, Any]) -> TargetState:
        """This state with the latest measurement: ``replace(self, values=values)``
        without its field-by-field rebuild (it runs on every evaluation)."""
        new = object.__new__(TargetState)
        new.__dict__.update(self.__dict__)
        new.__dict__["values"] = values
        return new

    @property
    def active(self) -> bool:
        """Acted on and not yet verified: counts against the blast radius."""
        return self.phase in (Phase.REMEDIATING, Phase.VERIFYING)

    @property
    def firing(self) -> bool:
        """An open incident past ``for:``: what stops the policies that depend on this one."""
        return self.incident is not None and self.phase in FIRING_PHASES

    def label(self) -> str:
        """The state as shown to people: an escalated firing target reads 'escalated'."""
        if self.escalated and self.phase == Phase.FIRING:
            return "escalated"
        if self.approval == "denied" and self.phase == Phase.FIRING:
            return "denied"
        return self.phase.value


@dataclass(frozen=True)
class Transition:
    state: TargetState
    notes: tuple[Note, ...] = ()
    wants_action: bool = False
    escalate: Escalate | None = None


def new_incident_id() -> str:
    return uuid.uuid4().hex[:16]


def enter(state: TargetState, phase: Phase, now: float, **changes: Any) -> TargetState:
    """``state`` moved into ``phase`` at ``now``, with ``changes`` to its other fields."""
    return replace(state, phase=phase, since=now, **changes)
