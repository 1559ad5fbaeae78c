"""Tiered on-call: levels while nobody acknowledges, reminders, and the book's rebuild."""

from __future__ import annotations

import pytest

from kit.policies import make_policy
from kit.runner import (
    Kit,
    ValueProbe,
    kit_fixture,  # noqa: F401 -- registers the `kit` fixture
)
from medic.audit.events import AuditEvent, Kind
from medic.clock import iso
from medic.engine.core import tiers
from medic.engine.pager import Pager
from medic.policy.model import Escalation, Level

ESC = Escalation(
    notify=("oncall",),
    levels=(Level(900.0, ("lead",)), Level(3600.0, ("manager",))),
)


def paged_at(t: float) -> tiers.Paged:
    return tiers.first_page("web", "t", "i1", ("oncall",), t)


def test_nothing_is_due_before_the_first_level_after() -> None:
    """14m59s after the first page nobody else is paged yet."""
    state, pages = tiers.due(paged_at(0), ESC, 899.0)
    assert pages == [] and state.level == 0
    assert tiers.next_due(state, ESC) == 900.0


def test_each_level_is_paged_once_when_its_time_comes() -> None:
    """At 15m the lead is paged; at 1h the manager; never twice."""
    state, pages = tiers.due(paged_at(0), ESC, 900.0)
    assert [(p.level, p.notify, p.reason) for p in pages] == [
        (1, ("lead",), "unacknowledged:level2")
    ]
    state, again = tiers.due(state, ESC, 901.0)
    assert again == []
    state, pages = tiers.due(state, ESC, 3600.0)
    assert [p.notify for p in pages] == [("manager",)]
    assert state.channels == ("oncall", "lead", "manager")
    assert tiers.next_due(state, ESC) is None


def test_overdue_levels_all_fire_after_a_long_pause() -> None:
    """An agent down past two levels pages both when it comes back, in order."""
    _state, pages = tiers.due(paged_at(0), ESC, 4000.0)
    assert [p.level for p in pages] == [1, 2]


def test_an_acknowledged_incident_pages_nobody_else() -> None:
    """An ack stops the levels and the reminders."""
    acked = tiers.acknowledge(paged_at(0), "alice")
    assert tiers.due(acked, ESC, 10_000.0) == (acked, [])
    assert tiers.next_due(acked, ESC) is None


def test_repeat_reminds_the_latest_level() -> None:
    """With repeat: 10m the level paged last is reminded every 10 minutes."""
    esc = Escalation(notify=("oncall",), levels=(Level(900.0, ("lead",)),), repeat=600.0)
    state, pages = tiers.due(paged_at(0), esc, 600.0)
    assert [(p.notify, p.repeat) for p in pages] == [(("oncall",), 1)]
    state, pages = tiers.due(state, esc, 900.0)
    assert [p.reason for p in pages] == ["unacknowledged:level2"]
    state, pages = tiers.due(state, esc, 1500.0)
    assert [(p.notify, p.reason) for p in pages] == [(("lead",), "unacknowledged:level2:repeat1")]


def test_the_book_is_rebuilt_from_the_paging_events() -> None:
    """First page, a level and an ack read back give the same state as before."""
    rows = [
        {
            "kind": "incident.escalated",
            "time": iso(100.0),
            "policy": "web",
            "target": "t",
            "incident": "i1",
            "details": {"reason": "remediation_failed", "notify": ["oncall"]},
        },
        {
            "kind": "incident.escalated",
            "time": iso(1000.0),
            "policy": "web",
            "target": "t",
            "incident": "i1",
            "details": {"reason": "unacknowledged:level2", "notify": ["lead"], "level": 2},
        },
    ]
    pager = Pager()
    pager.load(rows)
    paged = pager.book["i1"]
    assert (paged.first, paged.level, paged.channels) == (100.0, 1, ("oncall", "lead"))
    assert tiers.next_due(paged, ESC) == 3700.0
    ack = {**rows[0], "kind": "incident.acknowledged", "details": {"by": "bob"}}
    pager.load([ack])
    assert pager.book["i1"].acked_by == "bob"


def test_an_approval_request_starts_no_levels() -> None:
    """Asking for approval is not a page: it has its own timeout."""
    pager = Pager()
    pager.load(
        [
            {
                "kind": "incident.escalated",
                "time": iso(1.0),
                "policy": "p",
                "target": "t",
                "incident": "i9",
                "details": {"reason": "approval_required", "notify": ["dba"]},
            }
        ]
    )
    assert pager.book == {}


@pytest.mark.asyncio
async def test_runner_pages_start_levels_and_the_resolve_reaches_every_level(kit: Kit) -> None:
    """The runner's first page enters the book; an ack event stops the levels; the
    resolve goes to every channel paged."""
    policy = make_policy(when="value > 90", remediate=(), escalate=ESC)
    runner = kit.runner(policy)
    probe = runner.probe
    assert isinstance(probe, ValueProbe)
    probe.readings = {"t": {"value": 95}}
    await runner.evaluate()
    incident = runner.states["t"].incident
    assert incident is not None and incident in kit.engine.pager.book
    kit.engine.pager.book[incident] = tiers.due(
        kit.engine.pager.book[incident], ESC, kit.clock.wall() + 900
    )[0]
    kit.engine.pager.observe(AuditEvent(Kind.ACKNOWLEDGED, 1.0, incident=incident))
    assert kit.engine.pager.book[incident].acked_by == "someone"
    probe.readings = {"t": {"value": 10}}
    await runner.evaluate()
    resolve = kit.escalator.calls[-1]
    assert resolve["request"].resolve
    assert resolve["notify"] == ("oncall", "lead")
    assert incident not in kit.engine.pager.book
