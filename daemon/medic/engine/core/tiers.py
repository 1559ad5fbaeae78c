"""Tiered on-call: which level of an unacknowledged incident is due. Pure over time.

An incident that paged its first level (``escalate.notify``) goes up one level each
time a level's ``after`` (counted from that first page) passes with nobody having
acknowledged it; ``repeat`` re-sends the latest level paged while it stays
unacknowledged. An acknowledgement stops both; the incident's resolve goes to every
channel that was paged. Nothing here sleeps or reads a clock: :mod:`medic.engine.pager`
feeds the time, so a restarted agent that rebuilt a :class:`Paged` from the audit
log fires the next level exactly when it would have.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from medic.durations import format_duration
from medic.policy.model import Escalation


@dataclass(frozen=True)
class Paged:
    """One incident that paged: when, how far up, and whether anyone acknowledged."""

    policy: str
    target: str
    incident: str
    first: float
    last: float
    level: int = 0
    repeats: int = 0
    channels: tuple[str, ...] = ()
    acked_by: str | None = None


@dataclass(frozen=True)
class Due:
    """A page to send now: the level (0 is ``notify``), its channels and why."""

    level: int
    notify: tuple[str, ...]
    reason: str
    summary: str
    repeat: int = 0


def first_page(
    policy: str, target: str, incident: str, notify: tuple[str, ...], now: float
) -> Paged:
    return Paged(policy, target, incident, first=now, last=now, channels=notify)


def due(paged: Paged, esc: Escalation, now: float) -> tuple[Paged, list[Due]]:
    """The pages owed at ``now``, and the incident's paging state once they are sent."""
    if paged.acked_by is not None:
        return paged, []
    out: list[Due] = []
    while paged.level < len(esc.levels) and now >= paged.first + esc.levels[paged.level].after:
        level = paged.level + 1
        spec = esc.levels[level - 1]
        waited = format_duration(spec.after)
        out.append(
            Due(
                level,
                spec.notify,
                f"unacknowledged:level{level + 1}",
                f"{paged.policy} on {paged.target}: nobody acknowledged in {waited}; "
                f"escalated to level {level + 1}",
            )
        )
        channels = tuple(dict.fromkeys((*paged.channels, *spec.notify)))
        paged = replace(paged, level=level, last=now, repeats=0, channels=channels)
    if not out and esc.repeat is not None and now >= paged.last + esc.repeat:
        count = paged.repeats + 1
        out.append(
            Due(
                paged.level,
                esc.level_notify(paged.level),
                f"unacknowledged:level{paged.level + 1}:repeat{count}",
                f"{paged.policy} on {paged.target}: still not acknowledged "
                f"(reminder {count}, every {format_duration(esc.repeat)})",
                repeat=count,
            )
        )
        paged = replace(paged, last=now, repeats=count)
    return paged, out


def next_due(paged: Paged, esc: Escalation) -> float | None:
    """When the next page of this incident is owed (None: never, as things stand)."""
    if paged.acked_by is not None:
        return None
    times = []
    if paged.level < len(esc.levels):
        times.append(paged.first + esc.levels[paged.level].after)
    if esc.repeat is not None:
        times.append(paged.last + esc.repeat)
    return min(times) if times else None


def acknowledge(paged: Paged, who: str) -> Paged:
    return replace(paged, acked_by=who)
