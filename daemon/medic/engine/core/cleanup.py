"""Whether humans must hear that a ``finally:`` step failed, and what they are told.

A ``finally:`` step undoes something the remediation set up (maintenance mode, a lock,
a drained node). Its failure does not decide the attempt (verification does), but what
it should have undone may still be in place, so the policy's ``escalate.notify``
hears of it with reason ``cleanup_failed``: a notice per attempt, not booked for the
on-call levels, and held back by a silence like any page. In dry-run nothing runs, so
nothing fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from medic.engine.core.target_state import Escalate, Note

REASON = "cleanup_failed"


class CleanupOutcome(Protocol):
    """What this decision reads of a step's outcome."""

    @property
    def step(self) -> int: ...

    @property
    def type(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def cleanup(self) -> bool: ...

    @property
    def ok(self) -> bool: ...

    @property
    def ran(self) -> bool: ...


@dataclass(frozen=True)
class CleanupFailed:
    """A change that tells humans of failed ``finally:`` steps (no audit note of its own:
    each step's outcome is audited already)."""

    escalate: Escalate | None
    notes: tuple[Note, ...] = ()


def cleanup_failed(policy: str, outcomes: Sequence[CleanupOutcome]) -> CleanupFailed | None:
    """The notice for the ``finally:`` steps among ``outcomes`` that ran and failed, or
    None when every one that ran succeeded."""
    failed = [o for o in outcomes if o.cleanup and o.ran and not o.ok]
    if not failed:
        return None
    steps = "; ".join(f"step {o.step} ({o.type}): {o.summary}" for o in failed)
    summary = f"{policy}: a finally step failed, what it undoes may still be in place: {steps}"
    return CleanupFailed(Escalate(REASON, summary))


def hush(change: CleanupFailed, silence: str) -> CleanupFailed:
    """``change`` under the silence with id ``silence``: audited, delivered to nobody."""
    if change.escalate is None:
        return change
    return replace(change, escalate=replace(change.escalate, silenced_by=silence))
