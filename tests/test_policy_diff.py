"""medic.policy.diff: the semantic changes between two policy sets, exactly as printed."""

from __future__ import annotations

import textwrap

from medic.policy.diff import diff_policies
from medic.policy.loader import load_text
from medic.policy.model import Policy

BASE = """\
version: 1
policies:
  - name: web-memory
    probe: {type: host.memory, every: 30s}
    when: percent > 90
    for: 5m
    remediate:
      - command: {argv: [systemctl, restart, web], timeout: 30s}
      - command: {argv: [logger, restarted]}
    verify: {after: 1m}
    limits: {max: 3, per: 1h, cooldown: 5m}
    escalate: {after_failures: 1, notify: [oncall]}
"""


def policies(text: str) -> list[Policy]:
    result = load_text(textwrap.dedent(text), "p.yaml")
    assert not result.errors, [str(e) for e in result.errors]
    return list(result.policies)


def lines(old: str, new: str) -> list[str]:
    return [str(c) for c in diff_policies(policies(old), policies(new))]


def test_identical_sets_have_no_changes() -> None:
    """The same policies, reformatted and with equal durations spelled otherwise: no change."""
    respelled = BASE.replace("every: 30s", "every: 0.5m").replace("for: 5m", "for: 300s")
    assert lines(BASE, respelled) == []


def test_thresholds_windows_and_limits() -> None:
    """The condition, `for`, and each limit are told with old and new values."""
    new = (
        BASE.replace("percent > 90", "percent > 95")
        .replace("for: 5m", "for: 10m")
        .replace(
            "{max: 3, per: 1h, cooldown: 5m}", "{max: 2, per: 1h30m, cooldown: 5m, max_targets: 1}"
        )
    )
    assert lines(BASE, new) == [
        "~ web-memory: when percent > 90 -> percent > 95",
        "~ web-memory: for 5m -> 10m",
        "~ web-memory: limits.max 3 -> 2",
        "~ web-memory: limits.per 1h -> 1h30m",
        "~ web-memory: limits.max_targets (none) -> 1",
    ]


def test_probe_and_clear_when() -> None:
    """Probe interval and options, and an added clear_when, are changes of their own."""
    new = BASE.replace(
        "probe: {type: host.memory, every: 30s}\n    when: percent > 90",
        "probe: {type: host.memory, every: 15s, timeout: 5s}\n    when: percent > 90\n"
        "    clear_when: percent < 80",
    )
    assert lines(BASE, new) == [
        "~ web-memory: probe.every 30s -> 15s",
        "~ web-memory: probe.timeout 10s -> 5s",
        "~ web-memory: clear_when (none) -> percent < 80",
    ]


def test_step_options_and_timeout() -> None:
    """While the steps' action types line up, each step's options are compared in place."""
    new = BASE.replace("restart, web], timeout: 30s", "reload, web], timeout: 1m")
    assert lines(BASE, new) == [
        "~ web-memory: remediate[0].argv [systemctl, restart, web] -> [systemctl, reload, web]",
        "~ web-memory: remediate[0].timeout 30s -> 1m",
    ]


def test_steps_reordered_and_added() -> None:
    """A step list whose types changed is shown whole; a mere reordering says so."""
    swapped = BASE.replace(
        "      - command: {argv: [systemctl, restart, web], timeout: 30s}\n"
        "      - command: {argv: [logger, restarted]}\n",
        "      - command: {argv: [logger, restarted]}\n"
        "      - command: {argv: [systemctl, restart, web], timeout: 30s}\n",
    )
    assert lines(BASE, swapped) == [
        "~ web-memory: remediate (reordered) command {argv: [systemctl, restart, web]} "
        "timeout 30s; command {argv: [logger, restarted]} timeout 1m -> command {argv: "
        "[logger, restarted]} timeout 1m; command {argv: [systemctl, restart, web]} timeout 30s",
    ]
    added = BASE.replace(
        "      - command: {argv: [logger, restarted]}\n",
        "      - command: {argv: [logger, restarted]}\n"
        "      - http.request: {url: 'http://127.0.0.1:8080/clear', method: POST}\n",
    )
    assert lines(BASE, added) == [
        "~ web-memory: remediate command {argv: [systemctl, restart, web]} timeout 30s; "
        "command {argv: [logger, restarted]} timeout 1m -> command {argv: [systemctl, "
        "restart, web]} timeout 30s; command {argv: [logger, restarted]} timeout 1m; "
        'http.request {url: "http://127.0.0.1:8080/clear", method: POST} timeout 30s',
    ]


def test_escalation_approval_labels_and_windows() -> None:
    """Escalation, approval, dependencies, dry-run, labels and maintenance windows are compared."""
    new = BASE.replace(
        "    escalate: {after_failures: 1, notify: [oncall]}\n",
        "    escalate:\n"
        "      after_failures: 2\n"
        "      notify: [oncall]\n"
        "      levels: [{after: 15m, notify: [lead]}]\n"
        "      repeat: 1h\n"
        "      severity: critical\n"
        "    approval: {required: true, timeout: 10m}\n"
        "    dry_run: true\n"
        "    labels: {team: web}\n"
        "    maintenance: [{cron: '0 2 * * SUN', duration: 2h}]\n",
    )
    assert lines(BASE, new) == [
        "~ web-memory: escalate.after_failures 1 -> 2",
        "~ web-memory: escalate.levels[0] (none) -> after 15m: lead",
        "~ web-memory: escalate.repeat (none) -> 1h",
        "~ web-memory: escalate.severity (none) -> critical",
        "~ web-memory: approval.timeout (none) -> 10m",
        "~ web-memory: dry_run false -> true",
        "~ web-memory: labels.team (none) -> web",
        "~ web-memory: maintenance[0] (none) -> '0 2 * * SUN' for 2h UTC",
    ]


def test_added_removed_and_renamed() -> None:
    """Whole policies added or removed; one that only changed its name is a rename."""
    other = (
        "  - name: disk\n"
        "    probe: {type: host.disk, every: 1m}\n"
        "    when: percent > 95\n"
        "    escalate: {notify: [oncall]}\n"
    )
    old = BASE + other
    new = BASE.replace("name: web-memory", "name: web-mem") + other.replace(
        "name: disk", "name: disk-root"
    ).replace("95", "97")
    assert lines(old, new) == [
        "- disk: host.disk every 1m, when percent > 95",
        "~ web-memory: name web-memory -> web-mem",
        "+ disk-root: host.disk every 1m, when percent > 97",
    ]
