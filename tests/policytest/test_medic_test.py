"""`medic test`: cases run the real engine on simulated time and report like CI wants."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from medic.cli import main

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
    escalate:
      after_failures: 2
      notify: [oncall]
      levels: [{after: 15m, notify: [lead]}]
"""

HEALS = """\
  - name: a start that works heals at once
    policy: worker-down
    input: {worker: {running: "false"}}
    healed: {running: true}
    attempts: [heals]
    expect:
      - {at: 0s, event: incident.fired}
      - {at: 0s, event: action.started}
      - {at: 10s, event: verify.healed}
    never: [incident.escalated]
"""

PAGES = """\
  - name: two failed starts page once, then level 2
    policy: worker-down
    duration: 20m
    input: {worker: {running: "false"}}
    expect:
      - {at: 10s, event: verify.not_healed}
      - {event: action.deferred, reason: cooldown}
      - {at: 1m, event: action.started}
      - {at: 1m10s, event: incident.escalated, reason: remediation_failed}
      - {at: 16m10s, event: incident.escalated, level: 2}
"""

ACKED = """\
  - name: an acknowledged page stays at level 1
    policy: worker-down
    duration: 20m
    input: {worker: {running: "false"}}
    acknowledge: [{at: 5m, by: alice}]
    expect:
      - {at: 1m10s, event: incident.escalated, reason: remediation_failed}
      - {at: 5m, event: incident.acknowledged}
    never: [approval.requested]
"""

WRONG = """\
  - name: wrong on purpose
    policy: worker-down
    input: {worker: {running: "falsex2 true"}}
    expect:
      - {at: 0s, event: incident.fired}
      - {at: 30s, event: incident.escalated}
"""


def write(tmp_path: Path, *cases: str) -> Path:
    (tmp_path / "worker.yaml").write_text(POLICY, encoding="utf-8")
    path = tmp_path / "worker.test.yaml"
    path.write_text("version: 1\ntests:\n" + "".join(cases), encoding="utf-8")
    return path


def medic_test(*args: str) -> Result:
    return CliRunner().invoke(main, ["test", *args])


def test_passing_cases_exit_zero_with_one_line_each(tmp_path: Path) -> None:
    """Healing, paging with a level, and an acknowledgement that stops the level."""
    path = write(tmp_path, HEALS, PAGES, ACKED)
    result = medic_test(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"ok   {path}:3:5 a start that works heals at once",
        f"ok   {path}:13:5 two failed starts page once, then level 2",
        f"ok   {path}:23:5 an acknowledged page stays at level 1",
        "3 passed, 0 failed",
    ]


def test_a_wrong_expectation_fails_with_the_timeline(tmp_path: Path) -> None:
    """The failure names the expectation's line, what was met, and what really happened."""
    path = write(tmp_path, WRONG)
    result = medic_test(str(path))
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"FAIL {path}:3:5 wrong on purpose",
        f"  {path}:8:9: expected incident.escalated at 30s, not found after the event "
        "matched at 0s",
        "  expected:",
        "  ok    incident.fired at 0s (at 0s)",
        f"  MISS  incident.escalated at 30s  [{path}:8:9]",
        "  actual timeline:",
        "           0s  worker  incident.detected",
        "           0s  worker  incident.fired",
        "           0s  worker  action.started",
        "           0s  worker  action.succeeded  (ok)",
        "       10.01s  worker  verify.not_healed",
        "       10.01s  worker  action.deferred  (cooldown)",
        "           1m  worker  action.started",
        "           1m  worker  action.succeeded  (ok)",
        "     1m10.01s  worker  verify.not_healed",
        "     1m10.01s  worker  incident.escalated  (remediation_failed)",
        "     1m10.01s  worker  action.deferred  (cooldown)",
        "        1m30s  worker  incident.cleared  (condition cleared)",
        "0 passed, 1 failed",
    ]


def test_junit_lists_every_case(tmp_path: Path) -> None:
    """--junit writes a suite per file with a failure element for the failing case."""
    write(tmp_path, HEALS, WRONG)
    report = tmp_path / "junit.xml"
    result = medic_test(str(tmp_path), "--junit", str(report))
    assert result.exit_code == 1
    suite = ET.parse(report).getroot().find("testsuite")  # noqa: S314 -- our own output
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    names = [(c.get("name"), c.find("failure") is not None) for c in suite.iter("testcase")]
    assert names == [("a start that works heals at once", False), ("wrong on purpose", True)]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            HEALS.replace("policy: worker-down", "policy: worker-dwn"),
            "test 'a start that works heals at once' names policy 'worker-dwn', which is not "
            "in the files it tests; did you mean 'worker-down'?",
        ),
        (
            HEALS.replace("{worker: {running:", "{worker: {runing:"),
            "test 'a start that works heals at once': field 'runing' of 'worker' is not yielded "
            "by probe 'process'; did you mean 'running'?",
        ),
        (
            HEALS.replace('"false"', '"1e999"'),
            "bad series for worker.running: readings must be finite numbers (at `1e999`)",
        ),
    ],
)
def test_mistakes_in_a_test_file_name_the_line(tmp_path: Path, case: str, message: str) -> None:
    """A wrong policy name, field or series is an error with file and line, exit 1."""
    path = write(tmp_path, case)
    result = medic_test(str(path))
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith(f"{path}:"), first
    assert message in first


def test_no_test_files_is_an_error(tmp_path: Path) -> None:
    """Zero cases is not a pass."""
    result = medic_test(str(tmp_path))
    assert result.exit_code == 1
    assert "no test cases found" in result.output


def test_the_tutorial_in_docs_testing_md_passes(tmp_path: Path) -> None:
    """docs/testing.md's first policy and its tests, run as written."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text("utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    (tmp_path / "worker.yaml").write_text(blocks[0], encoding="utf-8")
    (tmp_path / "worker.test.yaml").write_text(blocks[1], encoding="utf-8")
    result = medic_test(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "2 passed, 0 failed"


def test_the_readme_policy_passes_the_readme_test(tmp_path: Path) -> None:
    """README's first policy and its test, as written: two failures page, a cooldown waits."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    policy, tests = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)[:2]
    (tmp_path / "worker.yaml").write_text(policy, encoding="utf-8")
    (tmp_path / "worker.test.yaml").write_text(tests, encoding="utf-8")
    result = medic_test(str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "1 passed, 0 failed"
