"""Policy defaults: one table, and the schema, the model and the builder agree with it."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from medic.policy.defaults import WRITTEN
from medic.policy.loader import load_text
from medic.policy.model import Policy
from medic.policy.schema import envelope_schema

# Every section that holds a defaulted key, present so that the key may be written.
BASE: dict[str, Any] = {
    "name": "p",
    "probe": {"type": "host.memory"},
    "when": "percent > 90",
    "approval": {"required": True},
    "fleet_budget": {"group": "g", "max": 1},
    "maintenance": [{"cron": "@daily", "duration": "1h"}],
}


def schema_defaults(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every ``default:`` under ``node`` with its key path (list items share their list's)."""
    if isinstance(node, list):
        for item in node:
            yield from schema_defaults(item, path)
        return
    if not isinstance(node, dict):
        return
    if "default" in node and path:
        yield ".".join(path), node["default"]
    for key, value in node.get("properties", {}).items():
        yield from schema_defaults(value, (*path, key))
    for keyword in ("items", "additionalProperties", "allOf", "anyOf", "oneOf", "then", "else"):
        yield from schema_defaults(node.get(keyword), path)


def policy_schema() -> dict[str, Any]:
    schema: dict[str, Any] = envelope_schema()["properties"]["policies"]["items"]
    return schema


def built(raw: dict[str, Any]) -> Policy:
    """The policy the loader builds from ``raw``, without its position and digest."""
    text = json.dumps({"version": 1, "policies": [raw]})
    result = load_text(text, "p.yaml")
    assert [str(e) for e in result.errors] == []
    (policy,) = result.policies
    return replace(policy, source=None, digest="")


def written_in(key: str, value: Any) -> dict[str, Any]:
    """BASE with ``key`` (``limits.per``; ``maintenance.act`` for its window) set to ``value``."""
    raw = copy.deepcopy(BASE)
    *sections, last = key.split(".")
    target: Any = raw
    for section in sections:
        target = target.setdefault(section, {})
        target = target[0] if isinstance(target, list) else target
    target[last] = value
    return raw


def test_every_schema_default_is_in_the_table() -> None:
    """The schema's default: values are the table's, key for key (none written elsewhere)."""
    found = dict(schema_defaults(policy_schema()))
    assert found == {key: WRITTEN[key] for key in found}
    assert len(found) >= 14


def test_every_default_in_the_table_is_shown_by_the_schema() -> None:
    """Each table key is a schema default, or named in its key's help (maintenance.timezone)."""
    found = dict(schema_defaults(policy_schema()))
    help_only = {key for key in WRITTEN if key not in found}
    assert help_only == {"maintenance.timezone"}
    timezone = policy_schema()["properties"]["maintenance"]["items"]["properties"]["timezone"]
    assert timezone["description"].endswith(f"Default {WRITTEN['maintenance.timezone']}.")


@pytest.mark.parametrize("key", sorted(WRITTEN))
def test_writing_a_default_is_the_same_as_leaving_it_out(key: str) -> None:
    """The schema's default, written in a policy, builds the model's default: they agree."""
    assert built(written_in(key, WRITTEN[key])) == built(copy.deepcopy(BASE))


@pytest.mark.parametrize("key", sorted(WRITTEN))
def test_the_builder_reads_every_defaulted_key(key: str) -> None:
    """A key written with another value changes the model: the builder does not drop it."""
    other = {bool: lambda v: not v, int: lambda v: v + 1}.get(type(WRITTEN[key]))
    value = other(WRITTEN[key]) if other else ALTERNATIVE[key]
    assert built(written_in(key, value)) != built(copy.deepcopy(BASE))


def test_the_policy_docs_show_the_table_defaults() -> None:
    """docs/policies.md's key table gives each defaulted key the table's default."""
    text = (Path(__file__).parents[1] / "docs" / "policies.md").read_text()
    rows = dict(re.findall(r"^\| `([a-z_.]+)` \| `([^`]+)` \|", text, re.MULTILINE))
    shown = {key: rows[key] for key in WRITTEN if key in rows}
    assert shown == {key: json.dumps(WRITTEN[key]).strip('"') for key in shown}
    assert len(shown) >= 10


# A value other than the default for each key written as text.
ALTERNATIVE = {
    "for": "1m",
    "verify.after": "1m",
    "limits.per": "2h",
    "limits.cooldown": "1m",
    "approval.timeout": "1m",
    "maintenance.timezone": "Europe/Berlin",
    "fleet_budget.per": "1m",
    "fleet_budget.wait": "1m",
    "fleet_budget.on_unreachable": "act",
}
