"""On-call levels in a policy file: parsed into the model, and their mistakes caught."""

from __future__ import annotations

from medic.policy.loader import load_text
from medic.policy.model import Level

POLICY = """\
version: 1
policies:
  - name: web
    probe: {{type: host.memory}}
    when: percent > 90
    escalate:
      notify: [oncall]
      severity: critical
      repeat: 30m
      levels:
        - {{after: {first}, notify: [lead]}}
        - {{after: 1h, notify: [{second}]}}
"""


def test_levels_repeat_and_severity_load() -> None:
    """Durations in seconds, levels in order, severity kept."""
    result = load_text(POLICY.format(first="15m", second="manager"), "p.yaml")
    assert not result.errors, result.errors
    esc = result.policies[0].escalate
    assert esc.levels == (Level(900.0, ("lead",)), Level(3600.0, ("manager",)))
    assert (esc.repeat, esc.severity) == (1800.0, "critical")
    assert esc.level_notify(0) == ("oncall",) and esc.level_notify(2) == ("manager",)


def test_a_level_not_later_than_the_one_before_is_an_error() -> None:
    """Levels must go up in time: 2h then 1h is refused at the second level's line."""
    result = load_text(POLICY.format(first="2h", second="manager"), "p.yaml")
    [error] = result.errors
    assert str(error) == (
        "p.yaml:12:19: policy 'web': level 3 comes after '1h', not later than the level "
        "before it (hint: order levels by `after`, each later than the one before (and "
        "than 0s))"
    )


def test_a_level_naming_an_unknown_notifier_is_an_error() -> None:
    """Level channels are checked against the agent config like escalate.notify."""
    text = POLICY.format(first="15m", second="manger")
    result = load_text(text, "p.yaml", notifiers={"oncall", "lead", "manager"})
    [error] = result.errors
    assert error.location is not None and error.location.line == 12
    assert "unknown notifier 'manger'" in error.message and "manager" in error.message
