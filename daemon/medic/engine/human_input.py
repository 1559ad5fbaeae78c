"""What people tell the running agent: silences, and answers to approval requests.

The API (and through it the CLI) calls these. Each input is checked, written to its
table through the audit store's one writer, audited with who gave it, and applied to
the in-memory books the engine reads on its hot path. Maintenance windows are rebuilt
here from the agent config and the loaded policies on every reload.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from medic.audit.events import AuditEvent, Kind
from medic.config import AgentConfig
from medic.durations import format_duration
from medic.engine.context import EngineContext
from medic.engine.core.approvals import Request, not_waiting
from medic.engine.core.silences import Matchers, ScheduledWindow, Silence
from medic.engine.human_tables import (
    find_request,
    load_open_requests,
    load_silences,
    save_expiry,
    save_request,
    save_silence,
)
from medic.errors import ApprovalNotFound, BadSilence, NotWaiting
from medic.policy.model import Policy

if TYPE_CHECKING:
    from medic.engine.runner import PolicyRunner

# The longest ad-hoc silence: anything longer is a maintenance window, or a mistake.
MAX_SILENCE = 90 * 86400.0


def windows(config: AgentConfig, policies: Iterable[Policy]) -> list[ScheduledWindow]:
    """Every maintenance window: the agent config's, then each policy's own."""
    out = [
        ScheduledWindow(
            id=f"maintenance:config:{index}",
            window=item.window,
            matchers=Matchers(item.policy, item.target, dict(item.labels)),
            reason=item.reason,
            source="config",
        )
        for index, item in enumerate(config.maintenance)
    ]
    for policy in policies:
        out.extend(
            ScheduledWindow(
                id=f"maintenance:{policy.name}:{index}",
                window=window,
                matchers=Matchers(policy=policy.name),
                reason=window.reason or f"maintenance window of policy {policy.name}",
                source=f"policy {policy.name}",
            )
            for index, window in enumerate(policy.maintenance)
        )
    return out


class HumanInput:
    def __init__(
        self, engine: EngineContext, runners: Callable[[], Mapping[str, PolicyRunner]]
    ) -> None:
        self.engine = engine
        self._runners = runners

    async def load(self) -> None:
        """At start: silences not yet ended and requests of open incidents, from the tables."""
        now = self.engine.clock.wall()

        def read(conn: sqlite3.Connection) -> tuple[list[Silence], list[Request]]:
            return load_silences(conn, now), load_open_requests(conn)

        silences, requests = await self.engine.audit.write(read)
        self.engine.silences.load(silences)
        self.engine.approvals.load(requests)

    # -- silences ------------------------------------------------------------------------

    def silences(self) -> list[dict[str, Any]]:
        now = self.engine.clock.wall()
        self.engine.silences.prune(now)
        return self.engine.silences.listing(now)

    async def add_silence(
        self,
        *,
        matchers: Matchers,
        author: str,
        reason: str,
        ends: float | None = None,
        duration: float | None = None,
        act: bool = False,
        starts: float | None = None,
    ) -> dict[str, Any]:
        """A new ad-hoc silence until ``ends``, or for ``duration`` from its start."""
        now = self.engine.clock.wall()
        begin = now if starts is None else starts
        if (ends is None) == (duration is None):
            raise BadSilence("give either a duration or an end time")
        ends = begin + duration if duration is not None else ends
        assert ends is not None
        if not matchers.as_dict():
            raise BadSilence("a silence needs a matcher: policy, target or labels")
        if not author.strip() or not reason.strip():
            raise BadSilence("a silence needs an author and a reason")
        if ends <= max(now, begin):
            raise BadSilence("the silence would end before it starts (or in the past)")
        if ends - begin > MAX_SILENCE:
            raise BadSilence(
                f"a silence may last at most {format_duration(MAX_SILENCE)}; "
                "use a maintenance window for recurring quiet times"
            )
        silence = Silence(
            id=uuid.uuid4().hex[:16],
            starts=begin,
            ends=ends,
            author=author.strip(),
            reason=reason.strip(),
            matchers=matchers,
            act=act,
            created=now,
        )
        await self.engine.audit.write(partial(save_silence, silence=silence))
        self.engine.silences.add(silence)
        body = silence.as_dict(now)
        self.engine.audit.emit(
            AuditEvent(Kind.SILENCE_CREATED, now, outcome="created", details=body)
        )
        return body

    async def expire_silence(self, silence_id: str, by: str) -> dict[str, Any]:
        """End an ad-hoc silence now (SilenceNotFound, SilenceEnded when it cannot be)."""
        now = self.engine.clock.wall()
        expired = self.engine.silences.ended(silence_id, now)
        await self.engine.audit.write(partial(save_expiry, silence=expired))
        self.engine.silences.add(expired)
        body = expired.as_dict(now)
        self.engine.audit.emit(
            AuditEvent(Kind.SILENCE_EXPIRED, now, outcome="expired", details={**body, "by": by})
        )
        return body

    # -- approvals -----------------------------------------------------------------------

    async def answer(
        self, incident: str, granted: bool, by: str, comment: str | None, via: str | None = None
    ) -> dict[str, Any]:
        """Grant or deny ``incident``'s request; ApprovalNotFound / NotWaiting otherwise.
        ``via`` (``link``: a signed link in a message) is audited when given."""
        now = self.engine.clock.wall()
        if self.engine.approvals.get(incident) is None:
            stored = await self.engine.audit.write(partial(find_request, incident=incident))
            if stored is None:
                raise ApprovalNotFound(incident)
            raise NotWaiting(f"incident {incident} is no longer waiting: {not_waiting(stored)}")
        request = self.engine.approvals.decide(incident, granted, by, comment, now)
        self.engine.audit.emit(
            AuditEvent(
                Kind.APPROVAL_GRANTED if granted else Kind.APPROVAL_DENIED,
                now,
                policy=request.policy,
                target=request.target,
                incident=incident,
                outcome=request.decision.value if request.decision else None,
                details={"by": by, "comment": comment, **({"via": via} if via else {})},
            )
        )
        runner = self._runners().get(request.policy)
        if runner is not None:
            runner.answered(request.target, incident, granted, now)
        await self.engine.audit.write(partial(save_request, request=request))
        return request.as_dict()
