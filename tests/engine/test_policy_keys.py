"""The policy keys for people: labels, depends_on, approval, maintenance, on_probe_failure."""

from __future__ import annotations

import textwrap

from medic.errors import PolicyError
from medic.policy.loader import FileResult, load_text

FILE = "policies/db.yaml"

FULL = """\
    version: 1
    policies:
      - name: db-failover
        probe: {type: host.memory}
        when: percent > 90
        labels: {team: db, tier: "1"}
        depends_on: [network-down]
        approval: {required: true, timeout: 10m, notify: [oncall]}
        maintenance:
          - {cron: "0 2 * * SUN", duration: 2h, timezone: Europe/Berlin}
          - {cron: "@daily", duration: 15m, act: true}
        remediate:
          - command: {argv: [systemctl, restart, postgresql]}
        escalate: {notify: [oncall], on_probe_failure: 5}
    """


def load(text: str) -> FileResult:
    return load_text(textwrap.dedent(text), FILE, notifiers={"oncall"})


def only_error(text: str) -> PolicyError:
    result = load(text)
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    return result.errors[0]


def test_the_keys_build_the_model() -> None:
    """Every new key lands in the Policy with durations in seconds and defaults filled."""
    (policy,) = load(FULL).policies
    assert policy.labels == {"team": "db", "tier": "1"}
    assert policy.depends_on == ("network-down",)
    assert policy.approval is not None
    assert (policy.approval.timeout, policy.approval.notify) == (600.0, ("oncall",))
    first, second = policy.maintenance
    assert (first.schedule.text, first.duration, first.timezone, first.act) == (
        "0 2 * * SUN",
        7200.0,
        "Europe/Berlin",
        False,
    )
    assert (second.timezone, second.act) == ("UTC", True)
    assert policy.escalate.on_probe_failure == 5


def test_defaults_ask_nobody_and_escalate_after_three_probe_failures() -> None:
    """Without the keys: no approval, no labels, no windows, on_probe_failure 3."""
    text = FULL.replace("        approval: {required: true, timeout: 10m, notify: [oncall]}\n", "")
    text = text.replace(", on_probe_failure: 5", "")
    (policy,) = load(text).policies
    assert policy.approval is None
    assert policy.escalate.on_probe_failure == 3
    assert policy.approval_notify == ("oncall",)
    off = load(FULL.replace("required: true", "required: false")).policies[0]
    assert off.approval is None


def test_bad_cron_names_the_field_at_its_line() -> None:
    """A wrong hour is reported at the cron value, naming the field and how to write one."""
    error = only_error(FULL.replace('"0 2 * * SUN"', '"0 25 * * SUN"'))
    assert str(error) == (
        "policies/db.yaml:10:16: policy 'db-failover': bad cron expression '0 25 * * SUN': "
        "hour 25 is out of range 0-23 (hint: five fields: minute hour day-of-month month "
        "day-of-week, like '0 2 * * SUN')"
    )


def test_unknown_time_zone_says_did_you_mean() -> None:
    """A misspelt zone gets the IANA name it probably meant."""
    error = only_error(FULL.replace("Europe/Berlin", "Europe/Berlinn"))
    assert str(error) == (
        "policies/db.yaml:10:55: policy 'db-failover': unknown time zone 'Europe/Berlinn'; "
        "did you mean 'Europe/Berlin'? (hint: an IANA time zone name like Europe/Berlin, "
        "America/New_York or UTC)"
    )


def test_zero_durations_are_refused() -> None:
    """A window of 0 and an approval timeout of 0 are mistakes."""
    error = only_error(FULL.replace("duration: 2h", "duration: 0s"))
    assert str(error) == (
        "policies/db.yaml:10:41: policy 'db-failover': `duration: 0s` must be more than 0 "
        "(hint: duration may be more than 0s up to 7d, like 500ms, 10s or 1m)"
    )
    error = only_error(FULL.replace("timeout: 10m", "timeout: 0s"))
    assert str(error) == (
        "policies/db.yaml:8:41: policy 'db-failover': `timeout: 0s` must be more than 0 "
        "(hint: timeout may be more than 0s up to 7d, like 500ms, 10s or 1m)"
    )


def test_approval_notify_names_configured_notifiers() -> None:
    """approval.notify is checked like escalate.notify."""
    error = only_error(FULL.replace("notify: [oncall]}", "notify: [pager]}", 1))
    assert str(error) == (
        "policies/db.yaml:8:55: policy 'db-failover': unknown notifier 'pager'; notifiers in "
        "the agent config: oncall (hint: add it under `notifiers:` in the agent config, or "
        "fix the name)"
    )


def test_schema_keeps_the_new_keys_strict() -> None:
    """Unknown keys in approval and maintenance, and non-text labels, are schema errors."""
    error = only_error(FULL.replace("timeout: 10m", "timout: 10m"))
    assert str(error) == (
        "policies/db.yaml:8:32: policy 'db-failover': unknown key 'timout' in approval; "
        "did you mean 'timeout'? valid keys: notify, required, timeout (hint: check the "
        "spelling and the indentation)"
    )
    error = only_error(FULL.replace("act: true", "akt: true"))
    assert "unknown key 'akt' in this item; did you mean 'act'?" in str(error)
    error = only_error(FULL.replace("on_probe_failure: 5", "on_probe_failure: -1"))
    assert str(error) == (
        "policies/db.yaml:14:52: policy 'db-failover': expected at least 0, got -1"
    )
