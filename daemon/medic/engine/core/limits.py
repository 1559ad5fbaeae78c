"""Limits: how often, how many and how fast Medic may act. Pure over an injected time.

The ledger holds remediation attempts by (policy, target); it is rebuilt from the
audit log when the agent starts, so a restart never resets a limit. Dry-run attempts
are kept apart from real ones: a shadow policy's "would act" never uses up the
budget of the live policy it becomes.

Before the limits come the humans' word: a silence that forbids acting
(:func:`check_silence`) and the policies this one depends on (:func:`check_dependencies`).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medic.audit.events import Kind, Reason
from medic.config import BreakerConfig
from medic.durations import format_duration
from medic.engine.core.silences import Silence
from medic.engine.core.target_state import Note
from medic.policy.model import Limits

# The longest window the ledger remembers; older attempts cannot affect a decision.
MAX_WINDOW = 7 * 86400.0


@dataclass(frozen=True)
class Attempt:
    policy: str
    target: str
    time: float
    dry: bool


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: Reason | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


ALLOW = Verdict(True)


class Ledger:
    """Remediation attempts, newest last, per (policy, target, dry) and host-wide."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str, bool], deque[float]] = defaultdict(deque)
        self._real: deque[float] = deque()

    def load(self, attempts: Iterable[Attempt]) -> None:
        for a in sorted(attempts, key=lambda a: a.time):
            self.record(a.policy, a.target, a.time, dry=a.dry)

    def record(self, policy: str, target: str, now: float, *, dry: bool) -> None:
        self._by_key[(policy, target, dry)].append(now)
        if not dry:
            self._real.append(now)

    def forget(self, policy: str, target: str, when: float, *, dry: bool) -> None:
        """Take back an attempt recorded at ``when`` that never ran (its intent
        could not be written): it must not use up the budget."""
        for times in (self._by_key.get((policy, target, dry)), None if dry else self._real):
            if times is not None and when in times:
                times.remove(when)

    def count(self, policy: str, target: str, *, dry: bool, since: float) -> int:
        return sum(1 for t in self._by_key.get((policy, target, dry), ()) if t > since)

    def last(self, policy: str, target: str, *, dry: bool) -> float | None:
        times = self._by_key.get((policy, target, dry))
        return times[-1] if times else None

    def real_since(self, since: float) -> int:
        return sum(1 for t in self._real if t > since)

    def prune(self, now: float) -> None:
        horizon = now - MAX_WINDOW
        for times in (*self._by_key.values(), self._real):
            while times and times[0] < horizon:
                times.popleft()


def check_silence(silence: Silence | None) -> Verdict:
    """A silence with ``act: false`` stops acting (reason ``silenced`` or ``maintenance``)."""
    if silence is None or silence.act:
        return ALLOW
    return Verdict(False, silence.code, silence.summary())


def always_seen(policy: str) -> bool:
    """The default of ``unseen``: every policy has measured (nothing to wait for)."""
    return False


def check_dependencies(
    depends_on: Sequence[str],
    firing: Callable[[str], Sequence[str]],
    unseen: Callable[[str], bool] = always_seen,
) -> Verdict:
    """While a policy this one depends on fires, this one does not act (``inhibited``).

    ``firing(name)`` gives the targets of policy ``name`` with a firing incident;
    ``unseen(name)`` is true while that policy has not measured yet (just started or
    its probe keeps failing): not knowing whether the cause fires holds this one back
    too, so an agent started during maintenance never acts before it has looked.
    """
    waiting = [name for name in depends_on if unseen(name)]
    if waiting:
        details: dict[str, Any] = {
            "cause": waiting[0],
            "cause_targets": [],
            "waiting_for": "its first measurement",
        }
        return Verdict(False, Reason.INHIBITED, details)
    causes = [(name, list(targets)) for name in depends_on if (targets := firing(name))]
    if not causes:
        return ALLOW
    cause, targets = causes[0]
    details = {"cause": cause, "cause_targets": targets}
    if len(causes) > 1:
        details["also"] = [name for name, _ in causes[1:]]
    return Verdict(False, Reason.INHIBITED, details)


def check_rate(
    limits: Limits, ledger: Ledger, policy: str, target: str, *, dry: bool, now: float
) -> Verdict:
    """At most ``max`` attempts per ``per`` window, and ``cooldown`` between two."""
    used = ledger.count(policy, target, dry=dry, since=now - limits.per)
    if used >= limits.max:
        return Verdict(
            False,
            Reason.RATE_LIMIT,
            {"max": limits.max, "per": format_duration(limits.per), "used": used},
        )
    last = ledger.last(policy, target, dry=dry)
    if last is not None and now - last < limits.cooldown:
        remaining = limits.cooldown - (now - last)
        return Verdict(
            False,
            Reason.COOLDOWN,
            {"cooldown": format_duration(limits.cooldown), "remaining": round(remaining, 1)},
        )
    return ALLOW


def check_blast_radius(limits: Limits, active: int, selected: int) -> Verdict:
    """At most N (or N%) of a policy's selected targets under remediation at once."""
    cap = limits.target_cap(selected)
    if active >= cap:
        return Verdict(
            False, Reason.BLAST_RADIUS, {"active": active, "cap": cap, "selected": selected}
        )
    return ALLOW


class Breaker:
    """Host-wide circuit breaker: too many real actions in a window stops all acting.

    It opens when ``max_actions`` real attempts fell within ``per``; it closes once
    ``reset_after`` has passed since it opened and the rate is back under the limit.
    """

    def __init__(self, config: BreakerConfig) -> None:
        self.config = config
        self.opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def check(self, ledger: Ledger, now: float) -> tuple[Verdict, Note | None]:
        """The verdict for one more real action, and a breaker event if the state changed."""
        recent = ledger.real_since(now - self.config.per)
        details = {
            "max_actions": self.config.max_actions,
            "per": format_duration(self.config.per),
            "recent": recent,
        }
        note: Note | None = None
        if self.opened_at is not None:
            if now - self.opened_at >= self.config.reset_after and recent < self.config.max_actions:
                self.opened_at = None
                note = Note(Kind.BREAKER_CLOSED, "closed", details)
            else:
                return Verdict(False, Reason.CIRCUIT_BREAKER, details), None
        if recent >= self.config.max_actions:
            self.opened_at = now
            opened = Note(
                Kind.BREAKER_OPENED,
                "opened",
                {**details, "reset_after": format_duration(self.config.reset_after)},
            )
            return Verdict(False, Reason.CIRCUIT_BREAKER, details), opened
        return ALLOW, note
