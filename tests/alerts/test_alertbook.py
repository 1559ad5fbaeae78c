"""The AlertBook: latest word per fingerprint, bounded, resolved alerts kept a while, callbacks."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from structlog.testing import capture_logs

from medic.alerts import Alert, AlertBook

T0 = 1_700_000_000.0


class Clock:
    """Wall time a test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def alert(fp: str, status: str = "firing", received: float = T0, **kw: Any) -> Alert:
    labels = kw.pop("labels", {"alertname": "DemoBroken", "instance": fp})
    return Alert(fp, status, labels, starts_at=T0 - 60, received_at=received, **kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(clock: Clock) -> AlertBook:
    return AlertBook(max_alerts=3, resolved_retention=600, clock=clock)


def test_update_keeps_the_latest_word_per_fingerprint(book: AlertBook) -> None:
    """A resolve replaces the firing alert with the same fingerprint; others stay."""
    assert book.update([alert("a"), alert("b")]) == 2
    assert book.update([alert("a", "resolved", ends_at=T0 + 5)]) == 1
    held = book.get("a")
    assert held is not None and held.status == "resolved" and held.resolved_at == T0 + 5
    assert [a.fingerprint for a in book.alerts()] == ["b", "a"]
    assert len(book) == 2


def test_a_repeat_refreshes_received_at_without_counting_as_a_change(book: AlertBook) -> None:
    """Alertmanager's repeat of an unchanged alert is no change, but its time is recorded."""
    seen: list[str] = []
    book.subscribe(lambda a: seen.append(a.fingerprint))
    book.update([alert("a")])
    assert book.update([alert("a", received=T0 + 30)]) == 0
    held = book.get("a")
    assert held is not None and held.received_at == T0 + 30
    assert seen == ["a"]


def test_changed_annotations_are_a_change(book: AlertBook) -> None:
    """A new annotation value is news for subscribers."""
    seen: list[str] = []
    book.subscribe(lambda a: seen.append(a.annotations.get("summary", "")))
    book.update([alert("a", annotations={"summary": "one"})])
    book.update([alert("a", annotations={"summary": "two"})])
    assert seen == ["one", "two"]


def test_full_book_drops_the_oldest_resolved_alert_first(book: AlertBook) -> None:
    """At max_alerts a new alert pushes out the least recently heard resolved one."""
    book.update([alert("r1", "resolved", T0), alert("f1", received=T0 + 1)])
    book.update([alert("r2", "resolved", T0 + 2)])
    book.update([alert("new", received=T0 + 3)])
    assert {a.fingerprint for a in book.alerts()} == {"f1", "r2", "new"}
    assert book.evicted == 1


def test_full_book_of_firing_alerts_drops_the_stalest_and_says_so(book: AlertBook) -> None:
    """With no resolved alert to drop, the firing alert heard least recently goes, logged."""
    seen: list[tuple[str, str]] = []
    book.subscribe(lambda a: seen.append((a.fingerprint, a.status)))
    book.update([alert("f1", received=T0), alert("f2", received=T0 + 1)])
    book.update([alert("f3", received=T0 + 2)])
    book.update([alert("f1", received=T0 + 3)])  # heard again: now the freshest
    seen.clear()
    with capture_logs() as logs:
        book.update([alert("f4", received=T0 + 4)])
    assert {a.fingerprint for a in book.alerts()} == {"f1", "f3", "f4"}
    assert seen == [("f2", "firing"), ("f4", "firing")]
    assert logs[0]["event"] == "alerts.evicted_firing"
    assert logs[0]["fingerprint"] == "f2"


def test_resolved_alerts_are_forgotten_after_the_retention(book: AlertBook, clock: Clock) -> None:
    """A resolved alert older than resolved_retention is swept on the next update."""
    book.update([alert("old", "resolved", ends_at=T0), alert("firing")])
    clock.now = T0 + 601
    book.update([alert("other", received=clock.now)])
    assert {a.fingerprint for a in book.alerts()} == {"firing", "other"}


def test_unsubscribe_stops_the_callbacks(book: AlertBook) -> None:
    """After unsubscribe() the callback hears nothing more."""
    seen: list[str] = []
    unsubscribe = book.subscribe(lambda a: seen.append(a.fingerprint))
    book.update([alert("a")])
    unsubscribe()
    unsubscribe()  # twice is harmless
    assert book.subscribers == 0
    book.update([alert("b")])
    assert seen == ["a"]


def test_a_failing_subscriber_does_not_stop_the_others(book: AlertBook) -> None:
    """One callback raising is logged; the update and the other callbacks go on."""
    seen: list[str] = []

    def broken(a: Alert) -> None:
        raise RuntimeError("boom")

    book.subscribe(broken)
    book.subscribe(lambda a: seen.append(a.fingerprint))
    with capture_logs() as logs:
        assert book.update([alert("a")]) == 1
    assert seen == ["a"]
    assert [e["event"] for e in logs] == ["alerts.subscriber_failed"]


def test_updates_from_threads_are_all_recorded(clock: Clock) -> None:
    """Concurrent writers lose no alert (the book locks its maps)."""
    book = AlertBook(max_alerts=10_000, clock=clock)

    def write(prefix: str) -> None:
        for i in range(500):
            book.update([alert(f"{prefix}{i}")])

    threads = [threading.Thread(target=write, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(book) == 2000


def test_max_alerts_must_be_positive() -> None:
    """A book that could hold nothing is refused."""
    with pytest.raises(ValueError, match="max_alerts must be at least 1"):
        AlertBook(max_alerts=0)
