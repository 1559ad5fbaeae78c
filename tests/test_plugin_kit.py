"""medic.plugin: the one surface plugin authors import, and its schema fragments."""

from __future__ import annotations

from jsonschema import Draft202012Validator

import medic.plugin as kit
from medic.durations import PATTERN, Span
from medic.policy.bounds import validator_class


def test_every_public_name_of_the_kit_resolves() -> None:
    """Each name in medic.plugin.__all__ is there, and nothing public is left unlisted."""
    assert [name for name in kit.__all__ if not hasattr(kit, name)] == []
    public = {n for n in vars(kit) if not n.startswith("_") and n != "annotations"}
    assert public == set(kit.__all__)


def test_options_schema_is_a_closed_object() -> None:
    """options_schema() always closes the object and lists required keys and extras."""
    schema = kit.options_schema({"a": {"type": "string"}}, required=("a",), minProperties=1)
    assert schema == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
        "minProperties": 1,
    }
    assert "required" not in kit.options_schema({})
    assert list(Draft202012Validator(schema).iter_errors({"a": "x", "b": 1}))


def test_duration_fragment_is_bounded_by_its_span() -> None:
    """duration() checks form and range; span=None leaves the range and text as written."""
    schema = kit.duration("How long.", "5m", span=Span(1.0, 60.0))
    check = validator_class()(kit.options_schema({"d": schema}))
    assert check.is_valid({"d": "30s"})
    assert not check.is_valid({"d": "2m"})
    assert not check.is_valid({"d": "soon"})
    assert kit.duration("As written.", span=None) == {
        "type": ["string", "number"],
        "pattern": PATTERN,
        "description": "As written.",
    }


def test_secret_argv_url_and_numbers_fragments() -> None:
    """The shared fragments accept what they describe and refuse the rest."""
    schema = kit.options_schema(
        {
            "token": kit.secret("A token."),
            "argv": kit.argv("Program."),
            "url": kit.url("Where.", pattern="^https?://"),
            "ratio": kit.number("Ratio.", 0, 1),
            "count": kit.integer("Count.", 1, 10),
        }
    )
    check = Draft202012Validator(schema)
    good = {"token": {"env": "T"}, "argv": ["x"], "url": "https://a", "ratio": 0.5, "count": 3}
    assert check.is_valid(good)
    for key, bad in [
        ("token", "plain"),
        ("argv", []),
        ("url", "ftp://a"),
        ("ratio", 2),
        ("count", 1.5),
    ]:
        assert not check.is_valid({**good, key: bad}), key
