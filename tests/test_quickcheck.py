"""The quick schema tests never pass what jsonschema refuses (issue 14: validate fast)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from medic.actions.base import actions
from medic.policy import schema as policy_schema
from medic.policy.bounds import validator_class
from medic.policy.quickcheck import SchemaCheck, compile_schema
from medic.probes.base import probes

# Values swapped in for every leaf: each type, bools beside numbers, odd durations.
ODD_VALUES: tuple[Any, ...] = (
    True,
    False,
    0,
    1,
    1.0,
    2.5,
    -1,
    2**60,
    "",
    "x",
    "1ms",
    "0s",
    "99999d",
    "20%",
    "150%",
    None,
    [],
    ["a", "a"],
    {},
    {"zz": 1},
)


def _examples() -> list[dict[str, Any]]:
    """Every registered probe's and action's docstring example, as plain data."""
    out = []
    for registry in (probes, actions):
        for _, cls in registry.items():
            text = policy_schema.docstring_example(cls)
            if text:
                out.append(yaml.safe_load(text))
    return out


def _variants(value: Any) -> Iterator[Any]:
    """``value`` with one leaf (or one whole mapping/list) replaced by each odd value."""
    yield from ODD_VALUES
    if isinstance(value, dict):
        for key, item in value.items():
            for variant in _variants(item):
                changed = dict(value)
                changed[key] = variant
                yield changed
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for variant in _variants(item):
                changed = list(value)
                changed[index] = variant
                yield changed


def _agrees(check: SchemaCheck, instance: Any) -> bool:
    """The quick test passes ``instance`` only if jsonschema finds nothing wrong."""
    assert check.quick is not None
    if not check.quick(instance):
        return True
    return not list(validator_class()(check.schema).iter_errors(instance))


@pytest.mark.parametrize("example", _examples(), ids=lambda e: e["policies"][0]["name"])
def test_quick_tests_never_pass_an_invalid_policy(example: dict[str, Any]) -> None:
    """For each example and thousands of mutations of it, quick yes implies jsonschema yes."""
    envelope = policy_schema.envelope_validator()
    assert envelope.quick is not None and envelope.quick(example), "a valid file must pass"
    policy = example["policies"][0]
    for variant in _variants(policy):
        assert _agrees(envelope, {"version": 1, "policies": [variant]}), variant
    probe = policy.get("probe")
    if isinstance(probe, dict):
        check = policy_schema.probe_validator(probes.get(probe["type"]))  # type: ignore[arg-type]
        own = {k: v for k, v in probe.items() if k not in ("every", "timeout")}
        assert check.quick is not None and check.quick(own)
        for variant in _variants(copy.deepcopy(own)):
            assert _agrees(check, variant), variant
    for step in policy.get("remediate", []):
        ((kind, options),) = step.items()
        check = policy_schema.action_validator(actions.get(kind))  # type: ignore[arg-type]
        assert check.quick is not None and check.quick(options or {})
        for variant in _variants(copy.deepcopy(options or {})):
            assert _agrees(check, variant), variant


def test_every_shipped_schema_has_a_quick_test() -> None:
    """No built-in probe's or action's schema falls back to jsonschema for valid values."""
    slow = [n for n, c in probes.items() if policy_schema.probe_validator(c).quick is None]
    slow += [n for n, c in actions.items() if policy_schema.action_validator(c).quick is None]
    assert slow == []


def test_the_agent_config_schema_has_a_quick_test() -> None:
    """The config schema (every notifier's options in it) compiles to an exact quick test,
    so `medic run` reads a valid config without importing jsonschema."""
    from medic.config_schema import schema as config_schema

    compiled = compile_schema(config_schema())
    assert compiled is not None and compiled[1]


# An agent config with every section and every notifier type, for the mutations below.
FULL_CONFIG: dict[str, Any] = {
    "host": "web-1",
    "state_dir": "state",
    "policies": ["policies"],
    "dry_run": False,
    "watch": True,
    "api": {"listen": "127.0.0.1:9325", "token": {"env": "MEDIC_API_TOKEN"}},
    "log": {"format": "json", "level": "info"},
    "limits": {
        "max_concurrent_actions": 4,
        "circuit_breaker": {"max_actions": 20, "per": "1m", "reset_after": "10m"},
    },
    "notifiers": {
        "hook": {"type": "webhook", "url": "https://hooks.example/x", "timeout": "5s"},
        "chat": {"type": "slack", "webhook_url": {"env": "SLACK_URL"}},
        "pager": {"type": "pagerduty", "routing_key": {"file": "/etc/medic/pd"}},
        "mail": {
            "type": "email",
            "host": "smtp.example",
            "username": "medic",
            "password": {"env": "SMTP_PASSWORD"},
            "from": "medic@example.org",
            "to": ["ops@example.org"],
        },
        "am": {"type": "alertmanager", "url": "http://127.0.0.1:9093"},
    },
    "delivery": {"max_backoff": "5m", "max_age": "24h"},
    "maintenance": [
        {"cron": "0 2 * * SUN", "duration": "2h", "matchers": {"policy": "web-*"}},
    ],
    "retention": {"max_age": "30d"},
}


def test_quick_tests_never_pass_an_invalid_config() -> None:
    """The agent config's quick test, over thousands of mutations: yes implies jsonschema yes."""
    from medic.config_schema import schema as config_schema

    check = SchemaCheck(config_schema())
    assert check.quick is not None and check.quick(FULL_CONFIG), "a valid config must pass"
    assert list(check.iter_errors(FULL_CONFIG)) == []
    for variant in _variants(copy.deepcopy(FULL_CONFIG)):
        assert _agrees(check, variant), variant


@pytest.mark.parametrize(
    ("schema", "instance", "valid"),
    [
        ({"enum": [1]}, True, False),
        ({"enum": [True]}, 1, False),
        ({"const": 1}, 1.0, True),
        ({"type": "integer"}, 3.0, True),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"format": "ipv4"}, "not an address", True),
        ({"x-medic-note": {"any": "thing"}, "type": "string"}, "x", True),
        ({"minimum": 1}, "0", True),
        ({"pattern": "b"}, "abc", True),
        ({"required": ["a"]}, [], True),
        ({"dependentRequired": {"a": ["b"]}}, {"a": 1}, False),
        ({"dependentRequired": {"a": ["b"]}}, {"a": 1, "b": 2}, True),
        ({"dependentRequired": {"a": ["b"]}}, {"b": 2}, True),
        ({"dependentRequired": {"a": ["b"]}}, ["a"], True),
        ({"oneOf": [{"type": "string"}, {"minLength": 1}]}, "x", False),
        ({"if": {"required": ["a"]}, "then": {"required": ["b"]}}, {"a": 1}, False),
        ({"if": {"required": ["a"]}, "else": {"required": ["b"]}}, {"c": 1}, False),
        ({"durationRange": {"minimum": 1, "maximum": 2, "exclusiveMinimum": False}}, "3s", False),
        ({"durationRange": {"minimum": 1, "maximum": 2, "exclusiveMinimum": False}}, "x", True),
    ],
)
def test_keywords_follow_jsonschema(schema: dict[str, Any], instance: Any, valid: bool) -> None:
    """Each keyword's quick test gives jsonschema's answer, bools and numbers kept apart."""
    compiled = compile_schema(schema)
    assert compiled is not None and compiled[1], "expected an exact test"
    assert compiled[0](instance) is valid
    assert (not list(validator_class()(schema).iter_errors(instance))) is valid


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/x"},
        {"patternProperties": {"a": {}}},
        {"if": {"uniqueItems": True}, "then": {}},
        {"not": {"uniqueItems": True}},
    ],
)
def test_what_it_cannot_tell_is_left_to_jsonschema(schema: dict[str, Any]) -> None:
    """An unknown keyword, or an inexact test under if/not, gives no quick test at all."""
    assert compile_schema(schema) is None
    assert SchemaCheck(schema).quick is None


def test_an_error_still_comes_from_jsonschema() -> None:
    """When the quick test says no, the errors are jsonschema's own."""
    check = SchemaCheck({"type": "object", "properties": {"n": {"type": "integer"}}})
    errors = list(check.iter_errors({"n": "x"}))
    assert [e.message for e in errors] == ["'x' is not of type 'integer'"]
    assert list(check.iter_errors({"n": 1})) == []
