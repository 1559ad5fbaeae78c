"""How a runner speaks: audit events under its policy, and pages through the silences.

:meth:`Teller.settle` is the one path of every change that may tell humans, a
target's transition or the probe's health alike: the silence it falls under, the
state kept, its audit notes, then the page. A silenced escalation is audited
(``escalated``, outcome ``silenced``) and sent to nobody; a page that goes out is
booked with the :class:`~medic.engine.pager.Pager` for its on-call levels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from medic.audit.events import AuditEvent, Kind
from medic.engine.context import EngineContext
from medic.engine.core.silences import Silence
from medic.engine.core.target_state import Change, Escalate, Note
from medic.engine.pager import NOT_PAGES
from medic.policy.model import Policy

C = TypeVar("C", bound=Change)


class Teller:
    """One runner's voice; ``history`` holds each target's step outcomes for messages."""

    def __init__(
        self, policy: Policy, engine: EngineContext, history: Mapping[str, list[dict[str, Any]]]
    ) -> None:
        self.policy = policy
        self.engine = engine
        self.history = history
        self.dry_run = engine.dry_run or policy.dry_run

    def settle(
        self,
        target: str,
        change: C,
        hush: Callable[[C, str], C],
        keep: Callable[[C], tuple[str | None, Mapping[str, Any] | None]],
        now: float,
        also: tuple[str, ...] = (),
    ) -> C:
        """The one path of every change that may tell humans (a target's transition, the
        probe's health): the silence it falls under (``hush`` marks it), the state kept
        (``keep`` stores it and says the incident and the values to audit), its audit
        notes, then the page. Returns the change as kept."""
        silence = None
        request = change.escalate
        if request is not None and not request.resolve:
            silence = self.active_silence(target, now)
            if silence is not None:
                change = hush(change, silence.id)
        incident, values = keep(change)
        self.note(target, incident, change.notes, values)
        if change.escalate is not None:
            self.page(target, incident, change.escalate, values or {}, silence, also)
        return change

    def page(
        self,
        target: str,
        incident: str | None,
        request: Escalate,
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

    def note(
        self,
        target: str | None,
        incident: str | None,
        notes: Iterable[Note],
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Audit each of ``notes``, in order."""
        for note in notes:
            self.emit(target, note.kind, incident, note.details, note.outcome, values)

    def active_silence(self, target: str, now: float) -> Silence | None:
        return self.engine.silences.active(self.policy.name, target, self.policy.labels, now)

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
