"""The rails' memory, read back from the audit log when the agent starts.

Nothing that stops Medic from acting may live only in memory, or a crash would
reset it. At start the agent rebuilds, before any policy runs:

- the limits ledger: every attempt of the last seven days (``action.started`` of a
  remediation's first step, and dry-run ``action.would_run``), so rate limits and
  cooldowns hold across a restart;
- the circuit breaker: if the last ``breaker.opened`` has no ``breaker.closed`` after
  it, the breaker is open since then and stays open until ``reset_after`` has passed
  from that moment, however often the agent restarts in between.

Open incidents (and whether a human was paged about them), pending approvals and
silences are read back by the agent and :mod:`medic.engine.human_input`.
"""

from __future__ import annotations

import structlog

from medic.audit import query as q
from medic.audit.events import Kind
from medic.audit.store import AuditStore
from medic.clock import parse_iso
from medic.engine.core.limits import MAX_WINDOW, Attempt, Breaker, Ledger

log = structlog.get_logger("medic.rebuild")


async def rebuild_ledger(audit: AuditStore, ledger: Ledger, now: float) -> int:
    """Load the attempts of the last :data:`MAX_WINDOW` into ``ledger``; how many."""
    history = await audit.action_history(now - MAX_WINDOW)
    attempts = [Attempt(r.policy, r.target, r.time, r.dry) for r in history if r.step == 0]
    ledger.load(attempts)
    return len(attempts)


async def rebuild_breaker(audit: AuditStore, breaker: Breaker) -> float | None:
    """Re-open ``breaker`` if the audit log says it was open; when it opened, or None."""
    kinds = (Kind.BREAKER_OPENED.value, Kind.BREAKER_CLOSED.value)
    last = await audit.query(q.AuditQuery(kinds=kinds, limit=1, order="desc"))
    if not last or last[0]["kind"] != Kind.BREAKER_OPENED.value:
        return None
    opened_at = parse_iso(last[0]["time"])
    breaker.opened_at = opened_at
    log.warning("breaker.still_open", opened_at=last[0]["time"])
    return opened_at
