"""The agent config: defaults, secrets by reference, and plain errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from medic.config import AgentConfig, load_config, with_api_token
from medic.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "medic.yaml"
    path.write_text(text)
    return path


def test_empty_file_gives_safe_defaults(tmp_path: Path) -> None:
    """An empty config is valid: loopback API, limits on, state and policies next to it."""
    config = load_config(write(tmp_path, ""))
    assert config.api.host == "127.0.0.1" and config.api.loopback
    assert config.limits.max_concurrent_actions == 4
    assert config.state_dir == tmp_path / ".medic"
    assert config.policy_paths == (tmp_path / "policies",)
    assert config.delivery == AgentConfig().delivery


def test_listen_beyond_loopback_needs_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Medic refuses to expose its API without a token."""
    monkeypatch.delenv("MEDIC_API_TOKEN", raising=False)
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "api: {listen: '0.0.0.0:9325'}\n"))
    assert str(err.value) == (
        f"{tmp_path / 'medic.yaml'}: the API listens on 0.0.0.0, beyond loopback, without a token"
        " (hint: set api.token: {env: NAME} (or {file: /path}), or listen on 127.0.0.1)"
    )


def test_token_is_read_from_the_named_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """api.token names the variable; the value never sits in the file, and is read
    when the API needs it."""
    monkeypatch.setenv("MY_TOKEN", "s3cret")
    config = load_config(write(tmp_path, "api: {listen: '0.0.0.0:9325', token: {env: MY_TOKEN}}\n"))
    assert config.api.token is None
    assert with_api_token(config).api.token == "s3cret"


def test_an_unset_token_variable_only_fails_where_the_token_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading a config whose api.token variable is unset works; resolving it names the fix."""
    monkeypatch.delenv("MY_TOKEN", raising=False)
    config = load_config(write(tmp_path, "api: {token: {env: MY_TOKEN}}\n"))
    with pytest.raises(ConfigError) as err:
        with_api_token(config)
    assert str(err.value) == (
        f"{tmp_path / 'medic.yaml'}: api.token: environment variable MY_TOKEN is not set"
        " (hint: set MY_TOKEN in the agent's environment (systemd: EnvironmentFile=))"
    )


def test_unknown_key_is_named(tmp_path: Path) -> None:
    """A misspelt top-level key is an error naming it."""
    with pytest.raises(ConfigError, match="Additional properties are not allowed"):
        load_config(write(tmp_path, "dryrun: true\n"))


def test_delivery_durations(tmp_path: Path) -> None:
    """delivery.max_backoff and max_age take durations; zero is refused with a hint."""
    config = load_config(write(tmp_path, "delivery: {max_backoff: 1m, max_age: 2h}\n"))
    assert (config.delivery.max_backoff, config.delivery.max_age) == (60.0, 7200.0)
    with pytest.raises(ConfigError, match="must be more than 0"):
        load_config(write(tmp_path, "delivery: {max_backoff: 0s}\n"))


def test_notifier_options_are_checked_against_their_type(tmp_path: Path) -> None:
    """A notifier missing a required option is refused at load, naming it."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "notifiers:\n  oncall: {type: webhook}\n"))
    assert "notifiers.oncall: 'url' is a required property" in str(err.value)


def test_a_notifier_that_is_not_a_mapping_is_refused_with_its_line(tmp_path: Path) -> None:
    """A notifier written as a string (`oncall: slack`) is a config error, not a crash."""
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "notifiers:\n  oncall: slack\n"))
    assert ":2: notifiers.oncall: 'slack' is not of type 'object'" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "limits:\n  circuit_breaker: {per: .nan}\n",
            ":2: '.nan' is not a finite number; numbers must be finite",
        ),
        (
            "delivery:\n  max_age: 1000d\n",
            ":2: delivery.max_age: '1000d' is above the 30d ceiling (allowed: more than 0s "
            "up to 30d)",
        ),
        (
            "dry_run: false\nlimits: {max_concurrent_actions: 5000}\n",
            ":2: limits.max_concurrent_actions: 5000 is greater than the maximum of 1000",
        ),
        ("x: &c {<<: *c}\n", ":1: '<<' merges the mapping that contains it into itself"),
        ("limits: {max_concurrent_actions: " + "9" * 5000 + "}\n", ":1: the number 9999"),
    ],
)
def test_config_numbers_are_bounded_and_errors_name_the_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    """The agent config refuses NaN, huge and out-of-range numbers at file:line."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}{expected}")


def test_config_bytes_that_are_not_utf8_name_the_line(tmp_path: Path) -> None:
    """A stray byte in the config is reported at its line."""
    path = tmp_path / "medic.yaml"
    path.write_bytes(b"dry_run: true\nhost: a\xffb\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:2: not UTF-8 text (hint: save it as UTF-8)"


def test_retention_section_is_read_and_bounded(tmp_path: Path) -> None:
    """retention: durations and sizes are parsed; a max_age under a week is refused."""
    config = load_config(write(tmp_path, "retention: {max_age: 90d, max_bytes: 1GiB}\n"))
    assert config.retention.max_age == 90 * 86400
    assert config.retention.max_bytes == 1024**3
    assert config.retention.every == 3600
    with pytest.raises(ConfigError, match="7d"):
        load_config(write(tmp_path, "retention: {max_age: 1d}\n"))
    with pytest.raises(ConfigError, match="16MiB and 1TiB"):
        load_config(write(tmp_path, "retention: {max_bytes: 1KiB}\n"))
    assert not load_config(write(tmp_path, "")).retention.enabled
