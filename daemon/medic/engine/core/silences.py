"""Silences and maintenance windows: times when Medic pages nobody, and may not act.

A silence matches policies by name (a glob), targets (a glob) and policy labels
(exact values); it has a start and an end, an author and a reason, and says whether
Medic may still act (``act: true``: heal, but page nobody) or not (``act: false``).
Ad-hoc silences come from the CLI or the API and are kept in the audit database's
``silences`` table; maintenance windows recur on a cron schedule, from the agent
config or from a policy, and each opening of one acts as a silence of its own.

:class:`SilenceBook` holds both in memory and answers the question the engine asks on
every gate check, "is this policy's target silenced now?", as a pure function of the
time it is given. When several match, one that forbids acting wins over one that
allows it, then the one that ends last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

from medic.audit.events import Reason
from medic.clock import iso
from medic.errors import SilenceEnded, SilenceNotFound
from medic.policy.windows import MaintenanceWindow


@dataclass(frozen=True)
class Matchers:
    """Which policies and targets a silence covers; an absent matcher matches anything."""

    policy: str | None = None
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def matches(self, policy: str, target: str, labels: Mapping[str, str]) -> bool:
        if self.policy is not None and not fnmatchcase(policy, self.policy):
            return False
        if self.target is not None and not fnmatchcase(target, self.target):
            return False
        return all(labels.get(key) == value for key, value in self.labels.items())

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.policy is not None:
            out["policy"] = self.policy
        if self.target is not None:
            out["target"] = self.target
        if self.labels:
            out["labels"] = dict(self.labels)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Matchers:
        return cls(data.get("policy"), data.get("target"), dict(data.get("labels") or {}))


@dataclass(frozen=True)
class Silence:
    """One silence: ad-hoc, or one opening of a maintenance window (``window`` set)."""

    id: str
    starts: float
    ends: float
    author: str
    reason: str
    matchers: Matchers
    act: bool = False
    created: float = 0.0
    window: str | None = None
    expired_early: float | None = None

    @property
    def code(self) -> Reason:
        """The suppression reason it gives: ``maintenance`` for windows, else ``silenced``."""
        return Reason.MAINTENANCE if self.window else Reason.SILENCED

    def active_at(self, now: float) -> bool:
        return self.starts <= now < self.ends

    def summary(self) -> dict[str, Any]:
        """What audit events say about the silence that covered them."""
        return {
            "silence": self.id,
            "reason": self.reason,
            "author": self.author,
            "ends": iso(self.ends),
            "act": self.act,
        }

    def as_dict(self, now: float) -> dict[str, Any]:
        """The silence as the API and ``medic silence list`` show it."""
        return {
            "id": self.id,
            "kind": "maintenance" if self.window else "silence",
            "matchers": self.matchers.as_dict(),
            "starts": iso(self.starts),
            "ends": iso(self.ends),
            "author": self.author,
            "reason": self.reason,
            "act": self.act,
            "active": self.active_at(now),
            "created": iso(self.created) if self.created else None,
            "expired_early": iso(self.expired_early) if self.expired_early else None,
        }


@dataclass(frozen=True)
class ScheduledWindow:
    """A maintenance window with what it covers; ``source`` is ``config`` or a policy."""

    id: str
    window: MaintenanceWindow
    matchers: Matchers
    reason: str
    source: str

    def occurrence(self, now: float) -> Silence | None:
        """The opening of this window that covers ``now``, as a silence."""
        span = self.window.current(now)
        if span is None:
            return None
        start, end = span
        return Silence(
            id=f"{self.id}@{iso(start)}",
            starts=start,
            ends=end,
            author=self.source,
            reason=self.reason,
            matchers=self.matchers,
            act=self.window.act,
            window=self.id,
        )

    def as_dict(self, now: float) -> dict[str, Any]:
        current = self.occurrence(now)
        upcoming = self.window.upcoming(now)
        return {
            "id": self.id,
            "kind": "maintenance",
            "matchers": self.matchers.as_dict(),
            "cron": self.window.schedule.text,
            "duration": self.window.duration,
            "timezone": self.window.timezone,
            "reason": self.reason,
            "author": self.source,
            "act": self.window.act,
            "active": current is not None,
            "starts": iso(current.starts) if current else None,
            "ends": iso(current.ends) if current else None,
            "next": iso(upcoming) if upcoming is not None else None,
        }


class SilenceBook:
    """Every ad-hoc silence not yet ended and every maintenance window, in memory."""

    def __init__(self) -> None:
        self._silences: dict[str, Silence] = {}
        self._windows: tuple[ScheduledWindow, ...] = ()

    def load(self, silences: Iterable[Silence]) -> None:
        for silence in silences:
            self._silences[silence.id] = silence

    def add(self, silence: Silence) -> None:
        self._silences[silence.id] = silence

    def set_windows(self, windows: Iterable[ScheduledWindow]) -> None:
        self._windows = tuple(windows)

    @property
    def windows(self) -> tuple[ScheduledWindow, ...]:
        return self._windows

    def get(self, silence_id: str) -> Silence | None:
        return self._silences.get(silence_id)

    def ended(self, silence_id: str, now: float) -> Silence:
        """The ad-hoc silence ``silence_id`` ended at ``now`` (store it with :meth:`add`)."""
        silence = self._silences.get(silence_id)
        if silence is None:
            if any(w.id == silence_id for w in self._windows):
                raise SilenceEnded(
                    f"{silence_id} is a maintenance window; edit its schedule to change it"
                )
            raise SilenceNotFound(silence_id)
        if silence.ends <= now:
            raise SilenceEnded(f"silence {silence_id} already ended at {iso(silence.ends)}")
        return replace(silence, ends=now, expired_early=now)

    def active(
        self, policy: str, target: str, labels: Mapping[str, str], now: float
    ) -> Silence | None:
        """The silence covering ``policy``'s ``target`` at ``now``, if any."""
        found: list[Silence] = [
            s
            for s in self._silences.values()
            if s.active_at(now) and s.matchers.matches(policy, target, labels)
        ]
        for window in self._windows:
            if window.matchers.matches(policy, target, labels):
                occurrence = window.occurrence(now)
                if occurrence is not None:
                    found.append(occurrence)
        if not found:
            return None
        return max(found, key=lambda s: (not s.act, s.ends))

    def listing(self, now: float) -> list[dict[str, Any]]:
        """Ad-hoc silences that have not ended (soonest first), then every window."""
        live = sorted((s for s in self._silences.values() if s.ends > now), key=lambda s: s.ends)
        return [s.as_dict(now) for s in live] + [w.as_dict(now) for w in self._windows]

    def prune(self, now: float) -> None:
        """Forget silences that have ended (the table keeps them)."""
        for silence_id in [k for k, s in self._silences.items() if s.ends <= now]:
            del self._silences[silence_id]
