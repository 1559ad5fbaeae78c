"""The generated policy JSON Schema: strict, documented, and true to every docstring example."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from medic.actions.base import Action, actions
from medic.policy.loader import load_text
from medic.policy.schema import docstring_example, policy_file_schema, summary
from medic.probes.base import Probe, probes
from medic.registry import Registry
from test_loader import ACTIONS, PROBES


def object_schemas(node: Any, path: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every sub-schema that describes an object's keys, except `if` conditions."""
    if isinstance(node, dict):
        if "properties" in node or node.get("type") == "object":
            yield path, node
        for key, value in node.items():
            if key == "if":  # a condition, not a shape: it must stay open to work
                continue
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    yield from object_schemas(sub, f"{path}/{key}/{name}")
            else:
                yield from object_schemas(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from object_schemas(item, f"{path}/{index}")


def is_closed(schema: dict[str, Any]) -> bool:
    """Closed: additionalProperties false, a typed map (env, headers), or a closed dispatcher."""
    extra = schema.get("additionalProperties")
    if extra is False:
        return True
    if isinstance(extra, dict) and not schema.get("properties"):
        return True  # a map of names to typed values, like environment variables
    branches = schema.get("allOf", [])
    return bool(branches) and all(b["then"].get("additionalProperties") is False for b in branches)


def registered() -> list[tuple[str, type]]:
    """Every installed probe and action, as the real registries hold them."""
    return [(f"probe {n}", c) for n, c in probes.items()] + [
        (f"action {n}", c) for n, c in actions.items()
    ]


@pytest.mark.parametrize(
    ("probe_registry", "action_registry"),
    [(probes, actions), (PROBES, ACTIONS)],
    ids=["installed", "stand-ins"],
)
def test_every_object_schema_is_closed(
    probe_registry: Registry[type[Probe]], action_registry: Registry[type[Action]]
) -> None:
    """No object in the schema accepts keys it does not list."""
    schema = policy_file_schema(probe_registry, action_registry)
    Draft202012Validator.check_schema(schema)
    found = list(object_schemas(schema))
    assert len(found) > 10
    assert [path for path, sub in found if not is_closed(sub)] == []


def test_docstring_examples_validate_against_the_schema() -> None:
    """Each installed probe's and action's YAML example passes the schema and the loader."""
    validator = Draft202012Validator(policy_file_schema())
    failures = []
    for what, cls in registered():
        example = docstring_example(cls)
        if example is None:
            failures.append(f"{what}: no ```yaml example in its docstring")
            continue
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(example))]
        errors += [str(e) for e in load_text(example, f"<{what}>").errors]
        failures += [f"{what}: {e}" for e in errors]
    assert failures == []


def test_every_installed_plugin_has_a_summary() -> None:
    """The first docstring line becomes the editor's help text, so none is empty."""
    assert [what for what, cls in registered() if not summary(cls)] == []


class Documented:
    """Restart something.

    Some prose.

    ```yaml
    version: 1
    policies:
      - name: x
    ```

    More prose.
    """


class Undocumented:
    pass


class Inherits(Documented):
    pass


def test_docstring_example_extracts_the_yaml_block() -> None:
    """The fenced yaml block comes back dedented, and only a class's own docstring counts."""
    assert docstring_example(Documented) == "version: 1\npolicies:\n  - name: x\n"
    assert docstring_example(Undocumented) is None
    assert docstring_example(Inherits) is None
    assert summary(Documented) == "Restart something."


def test_schema_describes_probe_fields_and_defaults() -> None:
    """Editors show a probe's fields and defaults from the schema."""
    schema = policy_file_schema(PROBES, ACTIONS)
    probe = schema["properties"]["policies"]["items"]["properties"]["probe"]
    assert probe["properties"]["type"]["enum"] == ["broken", "file", "host.memory", "script"]
    memory = next(
        b["then"] for b in probe["allOf"] if b["if"]["properties"]["type"]["const"] == "host.memory"
    )
    assert memory["description"] == (
        "Memory use of this host (a test stand-in).\n\n"
        "Fields for when: percent (number, %): memory in use; "
        "available_bytes (number, bytes): memory free"
    )
    assert memory["properties"]["every"]["description"].startswith(
        "How often the probe runs. Default 15s."
    )


def whole(text: str) -> list[str]:
    """Messages from validating YAML against the whole stand-in schema."""
    validator = Draft202012Validator(policy_file_schema(PROBES, ACTIONS))
    return [e.message for e in validator.iter_errors(yaml.safe_load(text))]


HEAD = "version: 1\npolicies:\n  - name: web\n    when: x > 1\n"


def test_whole_schema_dispatches_on_probe_type() -> None:
    """Each probe type gets its own options: required ones, and no strangers."""
    assert whole(HEAD + "    probe: {type: file, path: /x, every: 5s}\n") == []
    assert whole(HEAD + "    probe: {type: file}\n") == ["'path' is a required property"]
    assert whole(HEAD + "    probe: {type: host.memory, path: /x}\n") == [
        "Additional properties are not allowed ('path' was unexpected)"
    ]


def test_whole_schema_steps_are_one_known_action() -> None:
    """A step names one registered action; null options only where nothing is required."""
    steps = HEAD + "    probe: {type: script}\n    remediate:\n"
    assert whole(steps + "      - process.signal:\n") == []
    assert whole(steps + "      - command: {argv: [x], timeout: 5s}\n") == []
    assert whole(steps + "      - command:\n") != []
    assert whole(steps + "      - reboot: {}\n") != []
