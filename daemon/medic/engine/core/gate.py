"""The gate between "this target wants an action" and acting: every check, in order.

Nothing acts while the audit log cannot be written (the intent could not be
recorded). Then a human's word (a silence that forbids acting, a policy this one depends
on that is firing), then the host-wide circuit breaker, the policy's rate limits and
cooldown, its blast radius and the host-wide cap on concurrent actions. The first
check that says no is the verdict. Pure apart from the breaker, which may trip or
reset (and says so in the note it returns).

The gate reads the agent's shared rails through :class:`Rails`, a narrow view that
:class:`~medic.engine.context.EngineContext` satisfies; it imports nothing of the
I/O half of the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from medic.audit.events import Reason
from medic.config import GlobalLimits
from medic.engine.core.limits import (
    Breaker,
    Ledger,
    Verdict,
    check_blast_radius,
    check_dependencies,
    check_rate,
    check_silence,
)
from medic.engine.core.silences import Silence
from medic.engine.core.target_state import Note
from medic.policy.model import Policy


class Rails(Protocol):
    """What the gate reads of the state every runner shares."""

    @property
    def unwritable(self) -> Mapping[str, Any] | None:
        """Why the audit log cannot be written now (None: it can)."""

    @property
    def firing(self) -> Callable[[str], Sequence[str]]: ...

    @property
    def unseen(self) -> Callable[[str], bool]: ...

    @property
    def breaker(self) -> Breaker | None: ...

    @property
    def ledger(self) -> Ledger: ...

    @property
    def limits(self) -> GlobalLimits: ...

    @property
    def running_actions(self) -> int: ...


def gate(
    engine: Rails,
    policy: Policy,
    target: str,
    now: float,
    *,
    silence: Silence | None,
    active: int,
    selected: int,
    dry_run: bool,
) -> tuple[Verdict, Note | None]:
    """May ``target`` be acted on now? Also the breaker's note to audit, if it has one.

    ``active``: the policy's targets under remediation; ``selected``: how many targets
    the last measurement selected. A dry run is not held back by the breaker or the
    concurrency cap (it runs nothing), only by what a live run would meet.
    """
    outage = engine.unwritable
    if outage is not None:
        return Verdict(False, Reason.AUDIT_UNWRITABLE, outage), None
    verdict = check_silence(silence)
    if not verdict.allowed:
        return verdict, None
    verdict = check_dependencies(policy.depends_on, engine.firing, engine.unseen)
    if not verdict.allowed:
        return verdict, None
    note = None
    if not dry_run and engine.breaker is not None:
        verdict, note = engine.breaker.check(engine.ledger, now)
        if not verdict.allowed:
            return verdict, note
    verdict = check_rate(policy.limits, engine.ledger, policy.name, target, dry=dry_run, now=now)
    if not verdict.allowed:
        return verdict, note
    verdict = check_blast_radius(policy.limits, active, selected)
    if not verdict.allowed:
        return verdict, note
    cap = engine.limits.max_concurrent_actions
    if not dry_run and engine.running_actions >= cap:
        running = {"running": engine.running_actions, "cap": cap}
        return Verdict(False, Reason.CONCURRENCY, running), note
    return Verdict(True), note
