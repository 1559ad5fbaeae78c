"""`medic test` simulates a fleet budget: the real FleetGate asks a scripted fleet."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from medic.audit.events import AuditEvent
from medic.cli import main
from medic.policy.loader import load_paths
from medic.policytest.sim import T0, simulate
from medic.policytest.spec import load_test_file

POLICY = """\
version: 1
policies:
  - name: worker-down
    probe: {type: process, name: worker, every: 30s}
    when: not running
    remediate:
      - command: {argv: [systemctl, start, worker], timeout: 30s}
    verify: {after: 10s}
    limits: {max: 3, per: 1h, cooldown: 1m}
    fleet_budget: {group: workers, max: 2%s}
    escalate: {after_failures: 2, notify: [oncall]}
"""

EXHAUSTED = """\
  - name: every slot held by others, then one frees
    policy: worker-down
    duration: 3m
    input: {worker: {running: "false"}}
    healed: {running: true}
    attempts: [heals]
    fleet: [{at: 0s, held: 2}, {at: 1m, held: 1}]
    expect:
      - {at: 0s, event: fleet.budget_exhausted, outcome: exhausted}
      - {at: 0s, event: action.suppressed, reason: fleet_budget}
      - {at: 0s, event: incident.escalated, reason: "suppressed:fleet_budget"}
      - {at: 30s, event: fleet.budget_exhausted}
      - {at: 1m, event: fleet.slot_taken, outcome: taken}
      - {at: 1m, event: action.started}
      - {at: 1m10s, event: verify.healed}
"""

UNREACHABLE = """\
  - name: etcd unreachable fails closed
    policy: worker-down
    duration: 2m
    input: {worker: {running: "false"}}
    fleet: unreachable
    expect:
      - {at: 0s, event: fleet.unreachable, outcome: unreachable}
      - {at: 0s, event: action.suppressed, reason: fleet_unreachable}
    never: [action.started]
"""


def write(tmp_path: Path, *cases: str, budget: str = "") -> Path:
    (tmp_path / "worker.yaml").write_text(POLICY % budget, encoding="utf-8")
    path = tmp_path / "worker.test.yaml"
    path.write_text("version: 1\ntests:\n" + "".join(cases), encoding="utf-8")
    return path


def medic_test(*args: str) -> Result:
    return CliRunner().invoke(main, ["test", *args])


def events_of(path: Path, index: int = 0) -> list[AuditEvent]:
    spec = load_test_file(path)
    assert not spec.errors, spec.errors
    policies = {p.name: p for p in load_paths(spec.policy_paths).policies}
    case = spec.cases[index]
    return asyncio.run(simulate(case, policies[case.policy]))


def timeline(events: list[AuditEvent], prefix: str = "") -> list[tuple[float, str, str | None]]:
    return [
        (round(e.time - T0, 2), e.kind.value, e.target)
        for e in events
        if e.kind.value.startswith(prefix)
    ]


def test_exhausted_then_a_free_slot_passes_with_exact_output(tmp_path: Path) -> None:
    """A budget held by others suppresses and escalates; a freed slot lets it act."""
    path = write(tmp_path, EXHAUSTED, UNREACHABLE)
    result = medic_test(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"ok   {path}:3:5 every slot held by others, then one frees",
        f"ok   {path}:18:5 etcd unreachable fails closed",
        "2 passed, 0 failed",
    ]


def test_an_exhausted_budget_escalates_once_per_incident(tmp_path: Path) -> None:
    """Two refusals in a row page once, and the refusals never touch the rate limit."""
    events = events_of(write(tmp_path, EXHAUSTED))
    kinds = [e.kind.value for e in events]
    assert kinds.count("fleet.budget_exhausted") == 2
    assert kinds.count("incident.escalated") == 1
    assert "action.deferred" not in kinds


def test_unreachable_with_on_unreachable_act_fails_open(tmp_path: Path) -> None:
    """`on_unreachable: act`: the decision is audited as fail_open and the policy acts."""
    path = write(tmp_path, UNREACHABLE, budget=", on_unreachable: act")
    events = events_of(path)
    first = [(e.kind.value, e.outcome) for e in events if e.time == T0][2:4]
    assert first == [("fleet.unreachable", "fail_open"), ("action.started", None)]


def test_wait_takes_the_slot_when_it_frees_on_simulated_time(tmp_path: Path) -> None:
    """With wait: 1m, a slot freed 20 s in is taken at 20 s, after waiting 20 s."""
    case = EXHAUSTED.replace("{at: 1m, held: 1}", "{at: 20s, held: 1}")
    path = write(tmp_path, case, budget=", wait: 1m")
    events = events_of(path)
    assert timeline(events, "fleet.") == [(20.0, "fleet.slot_taken", "worker")]
    taken = next(e for e in events if e.kind.value == "fleet.slot_taken")
    assert taken.details["waited"] == 20.0
    assert timeline(events, "action.started") == [(20.0, "action.started", "worker")]


def test_a_wait_that_ends_with_no_slot_is_exhausted_at_its_end(tmp_path: Path) -> None:
    """With wait: 20s and every slot held, the refusal comes 20 s after the ask."""
    path = write(tmp_path, EXHAUSTED.replace("{at: 1m, held: 1}", "{at: 5m}"), budget=", wait: 20s")
    events = events_of(path)
    assert timeline(events, "fleet.")[:2] == [
        (20.0, "fleet.budget_exhausted", "worker"),
        (50.0, "fleet.budget_exhausted", "worker"),
    ]


def test_this_agents_own_slots_count_against_the_budget(tmp_path: Path) -> None:
    """Budget of 2, one held elsewhere, two targets at once: one acts, one is refused
    until this agent gives its slot back."""
    case = """\
  - name: two targets share the last slot
    policy: worker-down
    duration: 20s
    input: {a: {running: "false"}, b: {running: "false"}}
    fleet: [{at: 0s, held: 1}]
    expect: [{event: fleet.slot_taken}]
"""
    events = events_of(write(tmp_path, case))
    fleet = sorted((t, k) for t, k, _ in timeline(events, "fleet."))
    # The slot taken at 0 s is given back when verification is due (10 s).
    assert fleet == [
        (0.0, "fleet.budget_exhausted"),
        (0.0, "fleet.slot_taken"),
        (10.01, "fleet.slot_taken"),
    ]


def test_a_share_budget_counts_the_scripted_members(tmp_path: Path) -> None:
    """max: 10% of 20 members is 2 slots: 1 held elsewhere leaves one."""
    case = EXHAUSTED.replace(
        "[{at: 0s, held: 2}, {at: 1m, held: 1}]", "[{at: 0s, held: 1, members: 20}]"
    )
    path = write(tmp_path, case)
    (tmp_path / "worker.yaml").write_text(
        (POLICY % "").replace("max: 2", "max: 10%"), encoding="utf-8"
    )
    taken = next(e for e in events_of(path) if e.kind.value.startswith("fleet."))
    assert (taken.kind.value, taken.details["held"], taken.details["max"]) == (
        "fleet.slot_taken",
        2,
        2,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("{at: 1m, held: 1}", "{at: 0s, held: 1}"),
            "fleet phases must come in time order",
        ),
        (
            ("{at: 1m, held: 1}", "{at: 1m, held: -1}"),
            "expected at least 0, got -1",
        ),
    ],
)
def test_a_bad_fleet_script_names_the_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    """Phases out of order or negative counts are errors with file and line."""
    path = write(tmp_path, EXHAUSTED.replace(*change))
    result = medic_test(str(path))
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith(f"{path}:9:"), first
    assert message in first


def test_a_fleet_script_for_a_policy_without_a_budget_is_an_error(tmp_path: Path) -> None:
    """Scripting the fleet for a policy that never asks it is a mistake, not a pass."""
    path = write(tmp_path, EXHAUSTED)
    (tmp_path / "worker.yaml").write_text(
        (POLICY % "").replace("    fleet_budget: {group: workers, max: 2}\n", ""),
        encoding="utf-8",
    )
    result = medic_test(str(path))
    assert result.exit_code == 1
    assert (
        "test 'every slot held by others, then one frees' scripts `fleet:`, but policy "
        "'worker-down' has no `fleet_budget`" in result.output
    )


def test_the_fleet_section_of_docs_testing_md_passes(tmp_path: Path) -> None:
    """docs/testing.md's fleet cases, run as written against a budget of two."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text("utf-8")
    section = text.split("## Fleet budgets in tests", 1)[1]
    cases = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[0]
    path = write(tmp_path, cases)
    result = medic_test(str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 passed, 0 failed"
