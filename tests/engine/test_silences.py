"""Silences and maintenance windows: matching, the gate, and escalations held back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from kit.policies import make_policy
from kit.runner import (
    T0,
    Kit,
    kit_fixture,  # noqa: F401 -- registers the `kit` fixture
    record_steps,
    settle,
)
from medic.audit.events import Reason
from medic.config import AgentConfig, MaintenanceConfig, load_config
from medic.engine.core import state as st
from medic.engine.core.limits import check_silence
from medic.engine.core.silences import (
    Matchers,
    ScheduledWindow,
    Silence,
    SilenceBook,
)
from medic.engine.human_input import HumanInput, windows
from medic.errors import BadSilence, ConfigError, SilenceEnded, SilenceNotFound
from medic.policy.model import Escalation, Limits
from medic.policy.windows import CronSchedule, MaintenanceWindow

HIGH = {"value": 95}
LOW = {"value": 10}


def silence(sid: str = "s1", *, act: bool = False, ends: float = 100.0, **m: object) -> Silence:
    matchers = Matchers(**m) if m else Matchers(policy="web-*")  # type: ignore[arg-type]
    return Silence(sid, 0.0, ends, "alice", "deploy", matchers, act=act)


def test_matchers_glob_policy_and_target_and_match_labels_exactly() -> None:
    """Policy and target are globs; every label given must be equal on the policy."""
    m = Matchers(policy="web-*", target="api-?", labels={"team": "web"})
    assert m.matches("web-memory", "api-1", {"team": "web", "tier": "1"})
    assert not m.matches("db-memory", "api-1", {"team": "web"})
    assert not m.matches("web-memory", "api-12", {"team": "web"})
    assert not m.matches("web-memory", "api-1", {"team": "db"})
    assert not m.matches("web-memory", "api-1", {})
    assert Matchers(labels={"team": "web"}).matches("anything", "any", {"team": "web"})


def test_book_answers_only_while_a_silence_lasts() -> None:
    """A silence covers [starts, ends); outside it, or for other policies, nothing does."""
    book = SilenceBook()
    book.add(silence(ends=100.0))
    assert book.active("web-1", "t", {}, 50.0) is not None
    assert book.active("web-1", "t", {}, 100.0) is None
    assert book.active("db-1", "t", {}, 50.0) is None


def test_a_silence_that_forbids_acting_wins_over_one_that_allows_it() -> None:
    """When several match, act: false wins, then the one that ends last."""
    book = SilenceBook()
    book.add(silence("allow", act=True, ends=500.0))
    book.add(silence("forbid-short", act=False, ends=60.0))
    book.add(silence("forbid-long", act=False, ends=90.0))
    found = book.active("web-1", "t", {}, 10.0)
    assert found is not None and found.id == "forbid-long"
    found = book.active("web-1", "t", {}, 95.0)
    assert found is not None and found.id == "allow"


def test_maintenance_window_occurrence_is_a_silence_with_its_own_id() -> None:
    """Each opening of a window is a silence named after the window and its start."""
    window = ScheduledWindow(
        "maintenance:web:0",
        MaintenanceWindow(CronSchedule.parse("0 2 * * *"), 3600, "UTC", act=False),
        Matchers(policy="web"),
        "nightly",
        "policy web",
    )
    book = SilenceBook()
    book.set_windows([window])
    night = 1_714_528_800.0  # 2024-05-01T02:00:00Z
    found = book.active("web", "t", {}, night + 60)
    assert found is not None
    assert found.id == "maintenance:web:0@2024-05-01T02:00:00.000000Z"
    assert found.code == Reason.MAINTENANCE
    assert check_silence(found).reason == Reason.MAINTENANCE
    assert book.active("web", "t", {}, night + 3600) is None


def test_check_silence_lets_act_true_through_and_names_the_silence_otherwise() -> None:
    """act: true allows acting; act: false refuses with the silence's id, author and end."""
    assert check_silence(silence(act=True)).allowed
    verdict = check_silence(silence(act=False))
    assert not verdict.allowed
    assert verdict.reason == Reason.SILENCED
    assert verdict.details == {
        "silence": "s1",
        "reason": "deploy",
        "author": "alice",
        "ends": "1970-01-01T00:01:40.000000Z",
        "act": False,
    }


def test_ended_refuses_unknown_ended_and_scheduled_silences() -> None:
    """Only a live ad-hoc silence can be ended early."""
    book = SilenceBook()
    book.add(silence(ends=100.0))
    book.set_windows(windows(AgentConfig(maintenance=(_config_window(),)), []))
    with pytest.raises(SilenceNotFound):
        book.ended("nope", 10.0)
    with pytest.raises(SilenceEnded) as info:
        book.ended("maintenance:config:0", 10.0)
    assert str(info.value) == (
        "maintenance:config:0 is a maintenance window; edit its schedule to change it"
    )
    ended = book.ended("s1", 10.0)
    assert (ended.ends, ended.expired_early) == (10.0, 10.0)
    book.add(ended)
    with pytest.raises(SilenceEnded):
        book.ended("s1", 20.0)


def _config_window() -> MaintenanceConfig:
    window = MaintenanceWindow(CronSchedule.parse("0 2 * * SUN"), 7200, "Europe/Berlin")
    return MaintenanceConfig(window=window, reason="patching", labels={"team": "db"})


def test_windows_come_from_the_config_and_from_each_policy() -> None:
    """The config's windows match by their matchers; a policy's match that policy only."""
    policy = make_policy(name="db-disk", maintenance=(_config_window().window,))
    found = windows(AgentConfig(maintenance=(_config_window(),)), [policy])
    assert [(w.id, w.matchers.as_dict(), w.source) for w in found] == [
        ("maintenance:config:0", {"labels": {"team": "db"}}, "config"),
        ("maintenance:db-disk:0", {"policy": "db-disk"}, "policy db-disk"),
    ]


@pytest.mark.asyncio
async def test_silenced_policy_is_suppressed_and_pages_nobody(kit: Kit) -> None:
    """act: false: the action is suppressed (reason silenced, naming the silence) and the
    would-be escalation is audited once as silenced, never delivered."""
    policy = make_policy(name="web-1", remediate=record_steps(), limits=Limits(max=1, cooldown=0))
    kit.engine.silences.add(silence(ends=T0 + 600))
    runner = kit.runner(policy)
    runner.probe.readings = {"api": HIGH}  # type: ignore[attr-defined]
    for _ in range(3):
        await runner.evaluate()
        kit.clock.advance(10)
    await settle(runner)
    suppressed = kit.of("action.suppressed")
    assert [e.outcome for e in suppressed] == ["silenced"]
    assert suppressed[0].details["silence"] == "s1"
    assert suppressed[0].details["author"] == "alice"
    assert kit.escalator.calls == []
    assert kit.of("incident.escalated") == []  # a silence suppression is not page-worthy
    assert runner.states["api"].label() == "firing"


@pytest.mark.asyncio
async def test_escalation_under_a_silence_is_audited_once_and_pages_after_it(kit: Kit) -> None:
    """A no-remediation policy under a silence: escalated once with outcome silenced; when
    the silence ends and the problem persists, the next evaluation pages."""
    policy = make_policy(name="web-1", remediate=())
    kit.engine.silences.add(silence(ends=T0 + 25))
    runner = kit.runner(policy)
    runner.probe.readings = {"api": HIGH}  # type: ignore[attr-defined]
    for _ in range(3):  # T0, T0+10, T0+20: silenced
        await runner.evaluate()
        kit.clock.advance(10)
    escalated = kit.of("incident.escalated")
    assert [e.outcome for e in escalated] == ["silenced"]
    assert escalated[0].details["reason"] == "no_remediation"
    assert escalated[0].details["silence"]["silence"] == "s1"
    assert kit.escalator.calls == []
    assert not runner.states["api"].escalated
    await runner.evaluate()  # T0+30: the silence ended
    assert kit.escalator.reasons() == ["no_remediation"]
    assert runner.states["api"].escalated


@pytest.mark.asyncio
async def test_act_true_silence_lets_medic_act_but_holds_back_pages(kit: Kit) -> None:
    """act: true: the remediation runs; its failure escalation is audited as silenced."""
    policy = make_policy(
        name="web-1",
        remediate=record_steps(),
        verify_after=5,
        limits=Limits(max=5, cooldown=0),
        escalate=Escalation(after_failures=1, notify=("oncall",)),
    )
    kit.engine.silences.add(silence(act=True, ends=T0 + 600))
    runner = kit.runner(policy)
    runner.probe.readings = {"api": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    await settle(runner)
    kit.clock.advance(6)
    await runner.evaluate()  # verify: still bad
    await settle(runner)
    assert "action.succeeded" in kit.kinds()
    escalated = kit.of("incident.escalated")
    assert [(e.outcome, e.details["reason"]) for e in escalated] == [
        ("silenced", "remediation_failed")
    ]
    assert kit.escalator.calls == []


@pytest.mark.asyncio
async def test_silences_persist_and_expire_with_audit(kit: Kit) -> None:
    """Created and expired silences are written to the table, audited with their author,
    and read back by a fresh agent's book; an expired one is not."""
    humans = HumanInput(kit.engine, dict)
    body = await humans.add_silence(
        matchers=Matchers(policy="web-*"), duration=600, author="alice", reason="deploy"
    )
    other = await humans.add_silence(
        matchers=Matchers(target="db-1"), duration=600, author="bob", reason="disk swap", act=True
    )
    created = kit.of("silence.created")
    assert [e.details["author"] for e in created] == ["alice", "bob"]
    expired = await humans.expire_silence(body["id"], "carol")
    assert expired["expired_early"] is not None
    assert kit.of("silence.expired")[0].details["by"] == "carol"
    fresh = HumanInput(kit.engine, dict)
    kit.engine.silences = SilenceBook()
    await fresh.load()
    assert [s["id"] for s in fresh.silences()] == [other["id"]]
    assert fresh.silences()[0]["act"] is True


@pytest.mark.asyncio
async def test_bad_silences_are_refused_with_the_fix(kit: Kit) -> None:
    """No matcher, no reason, an end in the past or a silence over 90 days: refused."""
    humans = HumanInput(kit.engine, dict)
    cases = [
        (
            dict(matchers=Matchers(), duration=60),
            "a silence needs a matcher: policy, target or labels",
        ),
        (
            dict(matchers=Matchers(policy="x"), ends=T0 - 1),
            "the silence would end before it starts (or in the past)",
        ),
        (
            dict(matchers=Matchers(policy="x"), duration=91 * 86400),
            "a silence may last at most 90d; use a maintenance window for recurring quiet times",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(BadSilence) as info:
            await humans.add_silence(author="a", reason="r", **kwargs)  # type: ignore[arg-type]
        assert str(info.value) == message
    with pytest.raises(BadSilence) as info:
        await humans.add_silence(matchers=Matchers(policy="x"), duration=60, author=" ", reason="r")
    assert str(info.value) == "a silence needs an author and a reason"


def test_config_maintenance_windows_are_read_and_checked(tmp_path: Path) -> None:
    """The agent config's windows load with their matchers; a bad cron or zone names
    the entry and the field."""
    path = tmp_path / "medic.yaml"
    path.write_text(
        "maintenance:\n"
        "  - cron: '0 2 * * SUN'\n"
        "    duration: 2h\n"
        "    timezone: Europe/Berlin\n"
        "    reason: weekly patching\n"
        "    matchers: {labels: {team: db}}\n"
    )
    (item,) = load_config(path).maintenance
    assert (item.window.duration, item.window.timezone, item.reason) == (
        7200.0,
        "Europe/Berlin",
        "weekly patching",
    )
    assert dict(item.labels) == {"team": "db"} and item.policy is None
    path.write_text(
        "maintenance:\n  - {cron: '0 2 * * SUNDAY', duration: 2h, matchers: {policy: '*'}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: maintenance[0].cron: bad cron expression '0 2 * * SUNDAY': day of week "
        "'SUNDAY' is not a number from 0-7 or a name (SUN, MON, TUE, WED, THU, FRI, SAT) "
        "(hint: five fields: minute hour day-of-month month day-of-week, like '0 2 * * SUN')"
    )
    path.write_text(
        "maintenance:\n"
        "  - {cron: '@daily', duration: 2h, timezone: Berlin, matchers: {policy: '*'}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: maintenance[0].timezone: unknown time zone 'Berlin'; did you mean "
        "'Europe/Berlin'? (hint: an IANA time zone name like Europe/Berlin, America/New_York "
        "or UTC)"
    )


def test_hush_marks_the_first_escalation_and_drops_repeats() -> None:
    """Pure: under silence s1 the escalation is marked once, the flags stay as they were,
    a repeat is dropped, and a resolve passes untouched."""
    policy = make_policy(remediate=())
    old = st.TargetState()
    tr = st.observe(old, policy, HIGH, 0.0, incident_id="i")
    assert tr.escalate is not None and tr.state.escalated
    hushed = st.hush(old, tr, "s1")
    assert hushed.escalate is not None and hushed.escalate.silenced_by == "s1"
    assert not hushed.state.escalated and hushed.state.hushed == "s1"
    again = st.hush(hushed.state, st.observe(hushed.state, policy, HIGH, 10.0), "s1")
    assert again.escalate is None
    other = st.hush(hushed.state, st.observe(hushed.state, policy, HIGH, 20.0), "s2")
    assert other.escalate is not None and other.escalate.silenced_by == "s2"
    paged = replace(hushed.state, escalated=True)
    resolve = st.observe(paged, policy, LOW, 30.0)
    assert st.hush(paged, resolve, "s1") == resolve


@pytest.mark.parametrize("reason", ["silenced", "maintenance", "inhibited", "dry_run"])
def test_quiet_suppressions_never_escalate(reason: str) -> None:
    """Pure: a suppression by a silence, a window, a dependency or dry-run pages nobody."""
    policy = make_policy()
    state = st.observe(st.TargetState(), policy, HIGH, 0.0, incident_id="i").state
    tr = st.suppress(state, policy, reason, 1.0, {})
    assert tr.escalate is None and not tr.state.escalated
    assert st.suppress(state, policy, "rate_limit", 1.0, {}).escalate is not None
