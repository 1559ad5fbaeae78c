"""The alertmanager probe: which alerts it selects, how it names them, its fields, its watch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any, cast

import pytest

from medic.alerts import Alert, AlertBook
from medic.policy.loader import load_text
from medic.probes.monitoring.alertmanager import AlertmanagerProbe

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def alert(fp: str, status: str = "firing", **labels: str) -> Alert:
    return Alert(
        fingerprint=fp,
        status=status,
        labels={"alertname": "NodeServiceDown", **labels},
        annotations={"summary": f"{labels.get('unit', '?')} is down", "runbook": "r1"},
        starts_at=T0 - 90,
        ends_at=T0 - 10 if status == "resolved" else None,
        generator_url="http://prom:9090/graph?g0.expr=up",
        received_at=T0,
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def book(clock: Clock) -> AlertBook:
    return AlertBook(clock=clock)


def probe(book: AlertBook, **options: Any) -> AlertmanagerProbe:
    return AlertmanagerProbe({"alertname": "NodeServiceDown", **options}, book=book)


@pytest.mark.asyncio
async def test_one_target_per_matching_firing_alert_named_by_its_labels(book: AlertBook) -> None:
    """Each matching alert is a target in Prometheus notation; other alerts are left out."""
    book.update(
        [
            alert("f1", instance="web-1", unit="nginx.service"),
            alert("f2", instance="web-2", unit="nginx.service"),
            Alert("f3", "firing", {"alertname": "HighMemory", "instance": "web-1"}),
        ]
    )
    result = await probe(book).measure()
    assert sorted(result) == [
        'NodeServiceDown{instance="web-1",unit="nginx.service"}',
        'NodeServiceDown{instance="web-2",unit="nginx.service"}',
    ]


@pytest.mark.asyncio
async def test_fields_carry_the_fingerprint_labels_and_times(book: AlertBook) -> None:
    """Fields: firing, status, fingerprint, labels, annotations, summary, times, URL."""
    book.update([alert("abc123", instance="web-1", unit="nginx.service")])
    ((fields),) = (await probe(book).measure()).values()
    assert fields == {
        "firing": True,
        "status": "firing",
        "fingerprint": "abc123",
        "labels": {"alertname": "NodeServiceDown", "instance": "web-1", "unit": "nginx.service"},
        "annotations": {"summary": "nginx.service is down", "runbook": "r1"},
        "summary": "nginx.service is down",
        "starts_at": T0 - 90,
        "ends_at": None,
        "age": 90.0,
        "generator_url": "http://prom:9090/graph?g0.expr=up",
    }


@pytest.mark.asyncio
async def test_labels_match_exactly_or_by_whole_value_regex(book: AlertBook) -> None:
    """`labels` values are exact, or a fullmatch regex after `~`; a missing label never matches."""
    book.update(
        [
            alert("a", instance="web-1", unit="nginx.service"),
            alert("b", instance="web-10", unit="nginx.service"),
            alert("c", instance="db-1", unit="postgresql.service"),
            alert("d", unit="nginx.service"),
        ]
    )
    exact = await probe(book, labels={"instance": "web-1"}).measure()
    assert [f["fingerprint"] for f in exact.values()] == ["a"]
    regex = await probe(book, labels={"instance": "~web-\\d"}).measure()
    assert [f["fingerprint"] for f in regex.values()] == ["a"]
    wide = await probe(book, labels={"instance": "~web-.*", "unit": "nginx.service"}).measure()
    assert sorted(f["fingerprint"] for f in wide.values()) == ["a", "b"]
    by_name = await AlertmanagerProbe({"alertname": "~Node.*"}, book=book).measure()
    assert len(by_name) == 4


@pytest.mark.asyncio
async def test_target_label_names_targets_and_keeps_ids_unique(book: AlertBook) -> None:
    """target_label's value names a target; on a clash the earliest firing alert keeps it."""
    early = alert("a", instance="web-1", unit="nginx.service")
    late = Alert(
        "b",
        "firing",
        {"alertname": "NodeServiceDown", "instance": "web-2", "unit": "nginx.service"},
        starts_at=T0,
    )
    unlabelled = alert("c", instance="web-3")
    book.update([late, early, unlabelled])
    result = await probe(book, target_label="unit").measure()
    assert {t: f["fingerprint"] for t, f in result.items()} == {
        "nginx.service": "a",
        'NodeServiceDown{instance="web-2",unit="nginx.service"}': "b",
        'NodeServiceDown{instance="web-3"}': "c",
    }


@pytest.mark.asyncio
async def test_resolved_alert_stays_not_firing_for_keep_resolved(
    book: AlertBook, clock: Clock
) -> None:
    """After the resolve the target reads firing false until keep_resolved has passed."""
    book.update([alert("a", instance="web-1")])
    p = probe(book, keep_resolved="5m")
    target = 'NodeServiceDown{instance="web-1"}'
    assert (await p.measure())[target]["firing"] is True
    book.update([alert("a", "resolved", instance="web-1")])
    fields = (await p.measure())[target]
    assert (fields["firing"], fields["status"], fields["ends_at"]) == (False, "resolved", T0 - 10)
    clock.now = T0 - 10 + 300
    assert target in await p.measure()
    clock.now += 1
    assert await p.measure() == {}


@pytest.mark.asyncio
async def test_keep_resolved_zero_drops_the_target_at_once(book: AlertBook) -> None:
    """With keep_resolved: 0s a resolved alert is no target at all."""
    book.update([alert("a", "resolved", instance="web-1")])
    assert await probe(book, keep_resolved="0s").measure() == {}


@pytest.mark.asyncio
async def test_watch_wakes_on_a_matching_change_only(book: AlertBook) -> None:
    """watch() yields when a matching alert fires or resolves, not for other alerts."""
    p = probe(book, labels={"instance": "web-1"})
    stream = cast(AsyncGenerator[str | None, None], p.watch())
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)  # let watch() subscribe
    book.update([alert("x", instance="web-2"), Alert("y", "firing", {"alertname": "Other"})])
    await asyncio.sleep(0.05)
    assert not first.done()
    book.update([alert("a", instance="web-1")])
    assert await asyncio.wait_for(first, 5) is None
    book.update([alert("a", "resolved", instance="web-1")])
    assert await asyncio.wait_for(anext(stream), 5) is None
    await stream.aclose()
    assert book.subscribers == 0


def test_bad_regex_and_alertname_label_are_reported_with_the_fix() -> None:
    """validate() names the option, the bad value and how to write it."""
    problems = AlertmanagerProbe.validate(
        {"alertname": "~(", "labels": {"alertname": "X", "job": "~[a-"}, "keep_resolved": "2h"}
    )
    assert problems == [
        "alertname: '~(': invalid regex: missing ) to close `(` (character 1 of the "
        "pattern); close the group, or write \\( for a literal (; after `~` write an RE2 "
        "regular expression that must match the whole value, like ~web-.*",
        "labels.job: '~[a-': invalid regex: missing ] to close `[` (character 1 of the "
        "pattern); close the class, or write \\[ for a literal [; after `~` write an RE2 "
        "regular expression that must match the whole value, like ~web-.*",
        "labels.alertname: write the alert's name as alertname: instead.",
        "keep_resolved: the agent keeps resolved alerts for 1h at most; write 1h or less.",
    ]


def test_policy_without_alertname_fails_validation_with_its_line() -> None:
    """`medic validate` names file and line when alertname is missing."""
    text = (
        "version: 1\npolicies:\n  - name: p\n    probe: {type: alertmanager, labels: {a: b}}\n"
        "    when: firing\n"
    )
    errors = [str(e) for e in load_text(text, "alerts.yaml").errors]
    assert errors == ["alerts.yaml:4:12: policy 'p': missing required key 'alertname' in probe"]
