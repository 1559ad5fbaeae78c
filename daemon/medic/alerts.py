"""The AlertBook: the alerts Alertmanager has told this agent about, by fingerprint.

Alertmanager posts its webhook to ``POST /api/v1/alertmanager``; the route writes each
alert of the payload here, and the ``alertmanager`` probe reads the book to turn the
alerts its policy matches into targets. Both live in the agent's one process, so the
book is a module-level singleton, :data:`BOOK` (one agent per process).

The book holds the latest word on each alert (last write wins: Alertmanager sends a
group's notifications in order), keeps resolved alerts for ``resolved_retention`` so a
policy can verify that its remediation healed the alert, and never holds more than
``max_alerts``: when full it drops resolved alerts first, oldest first, and only then
the firing alert heard from least recently.

Subscribers (a probe's ``watch()``) are called with every alert that changed, so a
remediation starts as soon as the webhook arrives instead of at the next interval.
Callbacks run on the thread that updated the book, outside its lock; a callback that
wakes an event loop must use ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from medic.logsetup import get_logger

log = get_logger(__name__)

MAX_ALERTS = 10_000
RESOLVED_RETENTION = 3600.0
# Resolved alerts past their retention are swept at most this often.
SWEEP_EVERY = 1.0

Subscriber = Callable[["Alert"], None]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as Alertmanager last described it. Times are unix seconds."""

    fingerprint: str
    status: str  # "firing" or "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    starts_at: float | None = None
    ends_at: float | None = None
    generator_url: str = ""
    received_at: float = 0.0

    @property
    def firing(self) -> bool:
        return self.status == "firing"

    @property
    def name(self) -> str:
        """The ``alertname`` label ("" when the alert has none)."""
        return self.labels.get("alertname", "")

    @property
    def resolved_at(self) -> float:
        """When it resolved: ``endsAt`` if Alertmanager sent one, else when we heard it."""
        return self.ends_at if self.ends_at is not None else self.received_at

    def same_as(self, other: Alert) -> bool:
        """Whether ``other`` says nothing new (only ``received_at`` may differ)."""
        return (
            self.status == other.status
            and self.starts_at == other.starts_at
            and self.ends_at == other.ends_at
            and self.labels == other.labels
            and self.annotations == other.annotations
            and self.generator_url == other.generator_url
        )


class AlertBook:
    """The current alerts by fingerprint; bounded, locked, observable.

    Firing and resolved alerts are held apart, each in the order they were last
    heard, so the alert to drop when the book is full is always the first of one.
    """

    def __init__(
        self,
        *,
        max_alerts: int = MAX_ALERTS,
        resolved_retention: float = RESOLVED_RETENTION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_alerts < 1:
            raise ValueError("max_alerts must be at least 1")
        self.max_alerts = max_alerts
        self.resolved_retention = resolved_retention
        self.clock = clock
        self.evicted = 0
        self._firing: dict[str, Alert] = {}
        self._resolved: dict[str, Alert] = {}
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._swept_at = float("-inf")

    def __len__(self) -> int:
        return len(self._firing) + len(self._resolved)

    def get(self, fingerprint: str) -> Alert | None:
        with self._lock:
            return self._firing.get(fingerprint) or self._resolved.get(fingerprint)

    def alerts(self) -> list[Alert]:
        """A snapshot of every alert held: firing ones first, least recently heard first."""
        with self._lock:
            return [*self._firing.values(), *self._resolved.values()]

    def update(self, alerts: Iterable[Alert]) -> int:
        """Record what Alertmanager said; returns how many alerts are new or changed.

        Subscribers hear of each alert that is new or changed (a repeat of the same
        firing alert, sent every ``repeat_interval``, only refreshes ``received_at``)
        and of each firing alert dropped to make room.
        """
        notify: list[Alert] = []
        count = 0
        with self._lock:
            self._sweep()
            for alert in alerts:
                old = self._firing.pop(alert.fingerprint, None) or self._resolved.pop(
                    alert.fingerprint, None
                )
                if old is None and len(self) >= self.max_alerts:
                    dropped = self._evict()
                    if dropped.firing:
                        notify.append(dropped)
                (self._firing if alert.firing else self._resolved)[alert.fingerprint] = alert
                if old is None or not old.same_as(alert):
                    count += 1
                    notify.append(alert)
        self._notify(notify)
        return count

    @property
    def subscribers(self) -> int:
        """How many callbacks are subscribed (each running watch() holds one)."""
        return len(self._subscribers)

    def clear(self) -> None:
        """Forget every alert (tests, and an agent told to start afresh)."""
        with self._lock:
            self._firing.clear()
            self._resolved.clear()
            self.evicted = 0

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(alert)`` on every change; returns the function that stops it."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- inside the lock ------------------------------------------------------------

    def _sweep(self) -> None:
        """Forget resolved alerts older than the retention (at most once a second)."""
        now = self.clock()
        if now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        horizon = now - self.resolved_retention
        for fp in [fp for fp, a in self._resolved.items() if a.resolved_at < horizon]:
            del self._resolved[fp]

    def _evict(self) -> Alert:
        """Drop one alert to make room: the oldest resolved one, else the stalest firing."""
        pool = self._resolved or self._firing
        victim = pool.pop(next(iter(pool)))
        self.evicted += 1
        if victim.firing:
            log.warning(
                "alerts.evicted_firing",
                fingerprint=victim.fingerprint,
                alertname=victim.name,
                max_alerts=self.max_alerts,
            )
        return victim

    # -- outside the lock -------------------------------------------------------------

    def _notify(self, changed: list[Alert]) -> None:
        if not changed:
            return
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            for alert in changed:
                try:
                    callback(alert)
                except Exception:  # one broken subscriber must not stop the others
                    log.exception("alerts.subscriber_failed")


BOOK = AlertBook()
"""The agent's book: the API route writes into it, ``alertmanager`` probes read it."""
