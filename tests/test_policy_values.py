"""A policy's own values, read once into model types for the semantic checks and the builder."""

from __future__ import annotations

from medic.policy.model import Level
from medic.policy.values import read_values


def test_values_are_read_into_model_types() -> None:
    """Durations become seconds, a share a number, lists tuples; unwritten keys stay out."""
    values = read_values(
        {
            "name": "p",
            "for": "2m",
            "limits": {"per": "1h30m", "max_targets": "20%"},
            "escalate": {"notify": ["a"], "levels": [{"after": "10m", "notify": ["b"]}]},
            "approval": {"required": True, "timeout": "20m"},
            "maintenance": [{"cron": "@daily", "duration": "1h", "act": True}],
            "fleet_budget": {"group": "g", "max": 3},
        }
    )
    assert values.policy == {"hold": 120.0}
    assert values.limits == {"per": 5400.0, "max_targets_percent": 20.0}
    assert values.escalate == {"notify": ("a",), "levels": (Level(600.0, ("b",)),)}
    assert values.level_after == {0: 600.0}
    assert values.approval == {"timeout": 1200.0}
    assert values.windows == ({"duration": 3600.0, "act": True},)
    assert values.fleet_budget == {"group": "g", "max": 3}
    assert values.verify == {}


def test_malformed_values_are_left_out_for_the_schema_to_report() -> None:
    """A value that does not convert is skipped, never raised: stage 3 still runs."""
    values = read_values(
        {
            "for": [1],
            "limits": {"per": "nope", "max_targets": "x%", "cooldown": True},
            "escalate": {"levels": [{"after": "soon", "notify": []}, {"after": "5m"}, 7]},
            "approval": {"required": False, "timeout": "1m"},
            "maintenance": "daily",
            "fleet_budget": "g",
            "verify": None,
        }
    )
    assert values.policy == {}
    assert values.limits == {}
    assert values.level_after == {1: 300.0}
    assert "levels" not in values.escalate
    assert (values.approval, values.windows, values.fleet_budget) == (None, (), None)
