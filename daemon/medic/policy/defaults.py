"""Policy defaults: the one table the schema, the model and the builder read.

Each key is a policy key's path as a file writes it (``limits.per``; ``maintenance.act``
for every window); each value is the default as a file would write it, which is how
the generated schema shows it (``default: 1h``). The model's dataclass defaults are the
same values in the model's types (:func:`seconds` turns ``1h`` into ``3600.0``), and the
builder passes only the keys a policy writes, so the model fills in the rest.
``tests/test_policy_defaults.py`` checks that writing any of these is the same as
leaving it out, and that every ``default:`` of the schema is one of them.

Probe ``every``/``timeout`` and step ``timeout`` are not here: each probe and action
type declares its own (``default_every``, ``default_timeout``).
"""

from __future__ import annotations

from typing import Any

from medic.durations import parse_duration

WRITTEN: dict[str, Any] = {
    "for": "0s",
    "dry_run": False,
    "verify.after": "30s",
    "limits.max": 3,
    "limits.per": "1h",
    "limits.cooldown": "5m",
    "escalate.after_failures": 1,
    "escalate.on_suppressed": True,
    # Consecutive probe failures before a human is told that Medic cannot see.
    "escalate.on_probe_failure": 3,
    # How long an approval request waits for an answer.
    "approval.timeout": "15m",
    "maintenance.timezone": "UTC",
    "maintenance.act": False,
    "fleet_budget.per": "0s",
    "fleet_budget.wait": "0s",
    "fleet_budget.on_unreachable": "escalate",
}


def written(key: str) -> Any:
    """The default of ``key`` as a file writes it (and the schema shows it)."""
    return WRITTEN[key]


def seconds(key: str) -> float:
    """A duration default in seconds."""
    return parse_duration(WRITTEN[key])


def number(key: str) -> int:
    value = WRITTEN[key]
    assert isinstance(value, int) and not isinstance(value, bool), key
    return value


def flag(key: str) -> bool:
    value = WRITTEN[key]
    assert isinstance(value, bool), key
    return value


def word(key: str) -> str:
    value = WRITTEN[key]
    assert isinstance(value, str), key
    return value
