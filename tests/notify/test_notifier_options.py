"""Notifier options: one schema per type, embedded in the config schema; one error path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medic import config_schema
from medic.config import load_config
from medic.errors import ConfigError
from medic.notify.base import notifiers
from medic.notify.options import entry_schema

BAD = [
    (
        "webhook_url: https://hooks.slack.com/services/x",
        {"type": "slack", "webhook_url": "https://hooks.slack.com/services/x"},
        "notifiers.chat.webhook_url: 'https://hooks.slack.com/services/x' is not of type 'object'",
    ),
    (
        "severity: high",
        {"type": "pagerduty", "routing_key": {"env": "K"}, "severity": "high"},
        "notifiers.chat.severity: 'high' is not one of ['critical', 'error', 'warning', 'info']",
    ),
    (
        "timeout: soon",
        {"type": "webhook", "url": "http://127.0.0.1:9/", "timeout": "soon"},
        "notifiers.chat.timeout: 'soon' is not a duration: write a number with a unit, like "
        "500ms, 30s, 5m, 1h or 1h30m",
    ),
    (
        "secret_env: 1bad",
        {"type": "webhook", "url": "http://127.0.0.1:9/", "secret_env": "1bad"},
        "notifiers.chat.secret_env: '1bad' does not match '^[A-Za-z_][A-Za-z0-9_]*$'",
    ),
]


def config_text(options: dict[str, Any]) -> str:
    """The options as a block under notifiers.chat, one key a line (lines 3 on)."""
    lines = ["dry_run: true", "notifiers:", "  chat:"]
    for key, value in options.items():
        shown = "{env: K}" if isinstance(value, dict) else value
        lines.append(f"    {key}: {shown}")
    return "\n".join(lines) + "\n"


def test_the_config_schema_embeds_each_notifiers_own_schema() -> None:
    """`medic schema --config` holds, for every registered type, that type's options."""
    entry = config_schema.schema()["properties"]["notifiers"]["additionalProperties"]
    assert entry["properties"]["type"]["enum"] == notifiers.names()
    branches = {b["if"]["properties"]["type"]["const"]: b["then"] for b in entry["allOf"]}
    assert branches == {name: entry_schema(cls) for name, cls in notifiers.items()}
    assert "secret" in branches["webhook"]["properties"]


@pytest.mark.parametrize(("key_line", "options", "message"), BAD)
def test_a_bad_option_is_one_message_with_file_and_line(
    tmp_path: Path, key_line: str, options: dict[str, Any], message: str
) -> None:
    """The config names file:line of the bad key; building the notifier says the same."""
    path = tmp_path / "medic.yaml"
    path.write_text(config_text(options))
    line = path.read_text().splitlines().index(f"    {key_line}") + 1
    with pytest.raises(ConfigError) as from_config:
        load_config(path)
    assert (from_config.value.file, from_config.value.fields["line"]) == (str(path), line)
    assert from_config.value.message == message
    cls = notifiers.get(options["type"])
    assert cls is not None
    with pytest.raises(ConfigError) as built:
        cls("chat", {k: v for k, v in options.items() if k != "type"})
    assert built.value.message == message
    assert from_config.value.hint == built.value.hint == f"see docs/notifiers.md#{cls.type_name}"


def test_what_the_schema_cannot_say_is_refused_at_load_with_the_entrys_line(
    tmp_path: Path,
) -> None:
    """Credentials sent in clear (email) are refused when the config loads, at the entry."""
    path = tmp_path / "medic.yaml"
    path.write_text(
        "notifiers:\n  mail:\n    type: email\n    host: smtp.example\n    from: m@example\n"
        "    to: [ops@example]\n    username: medic\n    password: {env: P}\n"
        "    starttls: false\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}:3: notifiers.mail: username and password would be sent unencrypted "
        "(hint: keep starttls: true (the default) or set ssl: true)"
    )


def test_an_unknown_type_names_the_line_and_the_choices(tmp_path: Path) -> None:
    """A notifier type nobody registered: file:line and the registered types."""
    path = tmp_path / "medic.yaml"
    path.write_text("notifiers:\n  chat:\n    type: telegram\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}:3: notifiers.chat.type: 'telegram' is not one of {notifiers.names()}"
    )


def test_an_entry_without_a_type_says_so(tmp_path: Path) -> None:
    """No `type`: that is the error, not some type's unknown keys."""
    path = tmp_path / "medic.yaml"
    path.write_text("notifiers:\n  chat:\n    url: http://127.0.0.1:9/\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}:3: notifiers.chat: 'type' is a required property"
