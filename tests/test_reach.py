"""`medic validate` warns when limits make a policy's escalation unreachable or early."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from medic.cli import main
from medic.policy.loader import load_text
from medic.policy.model import Policy
from medic.policy.reach import escalation_warnings

POLICY = """\
version: 1
policies:
  - name: worker-down
    probe: {{type: process, name: worker, every: 30s}}
    when: not running
    remediate:
      - command: {{argv: [systemctl, start, worker], timeout: 30s}}
    limits: {{max: {max}, per: 1h, cooldown: 1m}}
    escalate: {{after_failures: {after}, notify: [oncall]{extra}}}
"""


def policy(max_: int, after: int, extra: str = "") -> Policy:
    result = load_text(POLICY.format(max=max_, after=after, extra=extra), "w.yaml")
    assert not result.errors, result.errors
    return result.policies[0]


def test_after_failures_within_the_rate_limit_is_quiet() -> None:
    """Two failures allowed by three attempts an hour: nothing to say."""
    assert escalation_warnings(policy(3, 2)) == []


def test_rate_limit_reached_first_pages_early() -> None:
    """max 1 with after_failures 2: the rate limit's page comes after one failure."""
    [warning] = escalation_warnings(policy(1, 2))
    assert str(warning) == (
        "w.yaml:3:5: warning: policy 'worker-down': escalate.after_failures is 2 but "
        "limits.max allows 1 attempt(s) per 1h: the rate limit refuses the next attempt and "
        "pages (suppressed:rate_limit) after 1 failed attempt(s), earlier than after_failures "
        "says (hint: lower escalate.after_failures to at most 1 or raise limits.max)"
    )


def test_rate_limit_reached_first_without_on_suppressed_never_pages() -> None:
    """With on_suppressed off, failures beyond the rate limit page nobody: say so."""
    [warning] = escalation_warnings(policy(1, 2, ", on_suppressed: false"))
    assert warning.message == (
        "escalate.after_failures is 2 but limits.max allows 1 attempt(s) per 1h, and "
        "on_suppressed is false: when remediation keeps failing nobody is paged"
    )


def test_validate_prints_warnings_and_still_passes(tmp_path: Path) -> None:
    """Warnings are printed with file:line and counted; the exit status stays 0."""
    path = tmp_path / "w.yaml"
    path.write_text(POLICY.format(max=1, after=2, extra=""), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}:3:5: warning: policy 'worker-down':")
    assert lines[1:] == ["1 warning", "ok: 1 policy in 1 file"]
