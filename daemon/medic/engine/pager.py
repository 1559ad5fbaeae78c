"""The incidents that paged a human and the on-call levels they still owe.

The runner tells the :class:`Pager` when an incident pages (:meth:`Pager.paged`) and
when it ends (:meth:`Pager.closed`, which returns every channel paged, so the resolve
reaches them all); an ``incident.acknowledged`` event in the audit stream stops its
levels. The agent calls :meth:`Pager.tick` once a second and sends what is due. At
start the book is rebuilt from the audit log (:meth:`Pager.load`), so levels fire on
time across restarts. The decisions themselves are :mod:`medic.engine.core.tiers`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from medic.audit.events import AuditEvent, Kind
from medic.clock import parse_iso
from medic.engine.core import tiers
from medic.engine.core.target_state import Escalate, TargetState
from medic.policy.model import Policy

if TYPE_CHECKING:  # the context holds a Pager: import it for types only
    from medic.engine.context import EngineContext

# Escalations that ask or tell rather than page: they start no on-call levels.
NOT_PAGES = frozenset({"approval_required", "cleanup_failed"})


class Pager:
    def __init__(self) -> None:
        self.book: dict[str, tiers.Paged] = {}

    def paged(
        self, policy: str, target: str, incident: str, notify: tuple[str, ...], now: float
    ) -> None:
        """``incident`` paged ``notify``: its first page starts the clock for the levels."""
        paged = self.book.get(incident)
        if paged is None:
            self.book[incident] = tiers.first_page(policy, target, incident, notify, now)
        else:
            channels = tuple(dict.fromkeys((*paged.channels, *notify)))
            self.book[incident] = replace(paged, channels=channels)

    def closed(self, incident: str | None) -> tuple[str, ...]:
        """``incident`` ended: forget it, and return every channel that was paged."""
        paged = self.book.pop(incident, None) if incident else None
        return paged.channels if paged is not None else ()

    def observe(self, event: AuditEvent) -> None:
        """An acknowledgement (from the CLI, the API or a link) stops the levels."""
        if event.kind is Kind.ACKNOWLEDGED and event.incident in self.book:
            who = _who(event.details)
            self.book[event.incident] = tiers.acknowledge(self.book[event.incident], who)

    def tick(
        self,
        now: float,
        policy_of: Callable[[str], Policy | None],
        held: Callable[[Policy, str], bool],
    ) -> list[tuple[tiers.Paged, tiers.Due, Policy]]:
        """The pages due at ``now``; the book moves on as if they were sent.

        ``held(policy, target)``: a silence covers it, so its levels wait.
        """
        out: list[tuple[tiers.Paged, tiers.Due, Policy]] = []
        for incident, paged in list(self.book.items()):
            policy = policy_of(paged.policy)
            if policy is None or held(policy, paged.target):
                continue
            moved, pages = tiers.due(paged, policy.escalate, now)
            self.book[incident] = moved
            out.extend((moved, page, policy) for page in pages)
        return out

    def next_due(self, policy_of: Callable[[str], Policy | None]) -> float | None:
        """When the next page of any incident is owed."""
        times = []
        for paged in self.book.values():
            policy = policy_of(paged.policy)
            when = tiers.next_due(paged, policy.escalate) if policy is not None else None
            if when is not None:
                times.append(when)
        return min(times, default=None)

    def load(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Rebuild the book from the paging events of open incidents, oldest first."""
        for row in events:
            incident = row["incident"]
            details = row["details"] if isinstance(row["details"], Mapping) else {}
            when = parse_iso(row["time"])
            paged = self.book.get(incident)
            if row["kind"] == Kind.ACKNOWLEDGED.value:
                if paged is not None:
                    self.book[incident] = tiers.acknowledge(paged, _who(details))
                continue
            if details.get("reason") in NOT_PAGES:
                continue
            notify = tuple(str(n) for n in details.get("notify", ()))
            if paged is None:
                self.book[incident] = tiers.first_page(
                    row["policy"] or "", row["target"] or "", incident, notify, when
                )
                continue
            level = int(details.get("level", 1)) - 1
            self.book[incident] = replace(
                paged,
                level=max(paged.level, level),
                last=when,
                repeats=int(details.get("repeat", 0)),
                channels=tuple(dict.fromkeys((*paged.channels, *notify))),
            )


def _who(details: Mapping[str, Any]) -> str:
    return str(details.get("by") or details.get("who") or "someone")


class Watching(Protocol):
    """What paging reads of a runner (the runner imports this module, not the reverse)."""

    @property
    def policy(self) -> Policy: ...

    @property
    def states(self) -> Mapping[str, TargetState]: ...


def send_due(engine: EngineContext, runners: Mapping[str, Watching], now: float) -> None:
    """Page the next on-call level of every unacknowledged incident that is due.

    A silence or maintenance window covering the target holds its levels back.
    """

    def policy_of(name: str) -> Policy | None:
        runner = runners.get(name)
        return runner.policy if runner is not None else None

    def held(policy: Policy, target: str) -> bool:
        return engine.silences.active(policy.name, target, policy.labels, now) is not None

    for paged, page, policy in engine.pager.tick(now, policy_of, held):
        runner = runners.get(policy.name)
        state = runner.states.get(paged.target) if runner is not None else None
        extra = {"level": page.level + 1, **({"repeat": page.repeat} if page.repeat else {})}
        engine.escalator.escalate(
            policy=policy.name,
            target=paged.target,
            incident=paged.incident,
            request=Escalate(page.reason, page.summary, notify=page.notify),
            notify=page.notify,
            values=state.values if state is not None else {},
            dry_run=False,
            details=extra,
            severity=policy.escalate.severity,
        )
