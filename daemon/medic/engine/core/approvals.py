"""Approvals: a policy that needs a human's yes asks once per incident, and waits.

When the gate admits an attempt for such a policy, the runner asks instead of acting:
the request is kept here (in memory, and as a row of the ``approvals`` table so it
survives a restart) until someone answers (``medic approve`` / ``medic deny`` or the
API), it expires, or the incident clears. A grant covers the incident: if the first
attempt does not heal, later attempts run within the limits without asking again.
Everything here is pure over the time it is given; the ``approvals`` table is read
and written by :mod:`medic.engine.human_tables`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from medic.clock import iso
from medic.errors import ApprovalNotFound, NotWaiting


class Decision(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    EXPIRED = "expired"  # nobody answered in time
    CLOSED = "closed"  # the incident ended while waiting


class Next(StrEnum):
    """What the runner does about an admitted attempt, given the incident's request."""

    ASK = "ask"  # no request yet: ask
    WAIT = "wait"  # asked, no answer, not expired: wait (after a restart: wait again)
    ACT = "act"  # granted: act
    EXPIRE = "expire"  # asked, no answer, and the time is up
    STOP = "stop"  # denied, expired or closed: do nothing more for this incident


@dataclass(frozen=True)
class Request:
    incident: str
    policy: str
    target: str
    requested: float
    expires: float
    decision: Decision | None = None
    decided: float | None = None
    by: str | None = None
    comment: str | None = None

    def waiting(self, now: float) -> bool:
        return self.decision is None and now < self.expires

    def as_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "policy": self.policy,
            "target": self.target,
            "requested": iso(self.requested),
            "expires": iso(self.expires),
            "decision": self.decision.value if self.decision else None,
            "decided": iso(self.decided) if self.decided is not None else None,
            "by": self.by,
            "comment": self.comment,
        }


def next_step(request: Request | None, now: float) -> Next:
    if request is None:
        return Next.ASK
    if request.decision == Decision.GRANTED:
        return Next.ACT
    if request.decision is not None:
        return Next.STOP
    return Next.WAIT if now < request.expires else Next.EXPIRE


def not_waiting(request: Request) -> str:
    """Why an answer to ``request`` comes too late, for the 409 message."""
    if request.decision in (Decision.GRANTED, Decision.DENIED):
        return f"it was already {request.decision.value} by {request.by}"
    if request.decision == Decision.CLOSED:
        return "the incident ended"
    return f"the request expired at {iso(request.expires)}"


class ApprovalBook:
    """Requests of open incidents, by incident id."""

    def __init__(self) -> None:
        self._requests: dict[str, Request] = {}

    def load(self, requests: Iterable[Request]) -> None:
        for request in requests:
            self._requests[request.incident] = request

    def get(self, incident: str) -> Request | None:
        return self._requests.get(incident)

    def ask(self, request: Request) -> None:
        self._requests[request.incident] = request

    def decide(
        self, incident: str, granted: bool, by: str, comment: str | None, now: float
    ) -> Request:
        """Record a human's answer; raises when there is nothing to answer."""
        request = self._requests.get(incident)
        if request is None:
            raise ApprovalNotFound(incident)
        if not request.waiting(now):
            raise NotWaiting(f"incident {incident} is no longer waiting: {not_waiting(request)}")
        decided = replace(
            request,
            decision=Decision.GRANTED if granted else Decision.DENIED,
            decided=now,
            by=by,
            comment=comment,
        )
        self._requests[incident] = decided
        return decided

    def close(self, incident: str, decision: Decision, now: float) -> Request | None:
        """End an unanswered request (expired, or its incident ended); None if answered."""
        request = self._requests.get(incident)
        if request is None or request.decision is not None:
            return None
        closed = replace(request, decision=decision, decided=now)
        self._requests[incident] = closed
        return closed

    def forget(self, incident: str) -> None:
        """The incident closed: its request lives on only in the table."""
        self._requests.pop(incident, None)

    def pending(self) -> list[Request]:
        return [r for r in self._requests.values() if r.decision is None]
