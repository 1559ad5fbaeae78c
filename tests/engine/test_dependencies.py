"""Dependencies: a policy does not act while a policy it depends on is firing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kit.policies import make_policy
from kit.runner import (
    Kit,
    kit_fixture,  # noqa: F401 -- registers the `kit` fixture
    record_steps,
    settle,
)
from medic.audit.events import Reason
from medic.engine.core.limits import check_dependencies
from medic.engine.core.state import Phase, TargetState
from medic.policy.loader import load_paths
from medic.policy.model import Limits

HIGH = {"value": 95}


def test_no_firing_dependency_allows() -> None:
    """Dependencies that are quiet (or unknown: no targets) let the policy act."""
    assert check_dependencies(["db-down"], lambda name: []).allowed
    assert check_dependencies([], lambda name: ["x"]).allowed


def test_firing_dependency_inhibits_and_names_the_cause() -> None:
    """The first firing dependency is the cause, with its targets; others are listed."""
    firing = {"db-down": ["db-1"], "cache-down": ["redis"]}
    verdict = check_dependencies(
        ["net-down", "db-down", "cache-down"], lambda name: firing.get(name, [])
    )
    assert not verdict.allowed
    assert verdict.reason == Reason.INHIBITED
    assert verdict.details == {
        "cause": "db-down",
        "cause_targets": ["db-1"],
        "also": ["cache-down"],
    }


def test_firing_phases_count_pending_does_not() -> None:
    """Firing, awaiting approval, remediating and verifying count; pending and ok do not."""
    for phase, firing in [
        (Phase.OK, False),
        (Phase.PENDING, False),
        (Phase.FIRING, True),
        (Phase.AWAITING_APPROVAL, True),
        (Phase.REMEDIATING, True),
        (Phase.VERIFYING, True),
    ]:
        assert TargetState(phase=phase, incident="i").firing is firing, phase


@pytest.mark.asyncio
async def test_inhibited_policy_is_suppressed_without_escalating(kit: Kit) -> None:
    """While its dependency fires the policy is suppressed (inhibited, cause named), nobody
    is paged for it; once the cause stops firing it acts."""
    causes: dict[str, list[str]] = {"database-down": ["db-1"]}
    kit.engine.firing = lambda name: causes.get(name, [])
    policy = make_policy(
        name="app-down",
        remediate=record_steps(),
        depends_on=("database-down",),
        limits=Limits(max=3, cooldown=0),
    )
    runner = kit.runner(policy)
    runner.probe.readings = {"app": HIGH}  # type: ignore[attr-defined]
    await runner.evaluate()
    await settle(runner)
    (suppressed,) = kit.of("action.suppressed")
    assert suppressed.outcome == "inhibited"
    assert suppressed.details == {
        "reason": "inhibited",
        "cause": "database-down",
        "cause_targets": ["db-1"],
    }
    assert kit.escalator.calls == [] and kit.of("incident.escalated") == []
    causes.clear()
    kit.clock.advance(10)
    await runner.evaluate()
    await settle(runner)
    assert "action.succeeded" in kit.kinds()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


POLICY = """\
    version: 1
    policies:
      - name: {name}
        probe: {{type: host.memory}}
        when: percent > 90
        depends_on: [{deps}]
    """


def test_depends_on_across_files_loads(tmp_path: Path) -> None:
    """A dependency defined in another file is fine."""
    _write(tmp_path, "a.yaml", POLICY.format(name="app-down", deps="database-down"))
    _write(tmp_path, "b.yaml", POLICY.format(name="database-down", deps=""))
    result = load_paths([tmp_path])
    assert result.errors == []
    app = next(p for p in result.policies if p.name == "app-down")
    assert app.depends_on == ("database-down",)


def test_unknown_dependency_is_an_error_with_a_guess(tmp_path: Path) -> None:
    """A name no file defines is an error at its line, with a did-you-mean."""
    a = _write(tmp_path, "a.yaml", POLICY.format(name="app-down", deps="databse-down"))
    _write(tmp_path, "b.yaml", POLICY.format(name="database-down", deps=""))
    result = load_paths([tmp_path])
    assert [str(e) for e in result.errors] == [
        f"{a}:6:18: policy 'app-down': depends_on names 'databse-down', which no policy file "
        "defines; did you mean 'database-down'? (hint: name a policy from the loaded files, "
        "or remove it)"
    ]
    assert [p.name for p in result.policies] == ["database-down"]


def test_dependency_cycle_is_an_error_on_each_link(tmp_path: Path) -> None:
    """Policies that depend on each other would never act: each link is reported."""
    a = _write(tmp_path, "a.yaml", POLICY.format(name="app-down", deps="database-down"))
    b = _write(tmp_path, "b.yaml", POLICY.format(name="database-down", deps="app-down"))
    result = load_paths([tmp_path])
    hint = "(hint: policies that inhibit each other would never act; remove one link)"
    assert [str(e) for e in result.errors] == [
        f"{a}:6:18: policy 'app-down': depends_on makes a cycle: app-down -> database-down "
        f"-> app-down {hint}",
        f"{b}:6:18: policy 'database-down': depends_on makes a cycle: app-down -> "
        f"database-down -> app-down {hint}",
    ]


def test_depending_on_itself_is_an_error(tmp_path: Path) -> None:
    """A policy naming itself in depends_on is told so."""
    a = _write(tmp_path, "a.yaml", POLICY.format(name="app-down", deps="app-down"))
    result = load_paths([tmp_path])
    assert [str(e) for e in result.errors] == [
        f"{a}:6:18: policy 'app-down': a policy cannot depend on itself (hint: name the "
        "policies whose firing should stop this one from acting)"
    ]


def test_a_dependency_not_measured_yet_holds_the_dependent_back() -> None:
    """Started during maintenance: nothing acts before the cause has been looked at."""
    from medic.engine.core.limits import check_dependencies

    verdict = check_dependencies(["maintenance"], lambda name: (), lambda name: True)
    assert not verdict.allowed and verdict.reason is not None
    assert verdict.reason.value == "inhibited"
    assert verdict.details == {
        "cause": "maintenance",
        "cause_targets": [],
        "waiting_for": "its first measurement",
    }
    assert check_dependencies(["maintenance"], lambda name: (), lambda name: False).allowed
