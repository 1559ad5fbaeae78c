"""One secret style ({env: NAME} / {file: /path}); the old spellings still work and warn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs

from medic import secrets
from medic.cli import main
from medic.cli.run import log_old_spellings
from medic.config import load_config, with_api_token
from medic.errors import ConfigError
from medic.notify.webhook import WebhookNotifier
from medic.redact import is_secret_key
from medic.registry import Registry

OLD_CONFIG = """\
policies: [policies]
api:
  listen: 0.0.0.0:9325
  token_env: SPELL_TOKEN
notifiers:
  oncall:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret_env: SPELL_KEY
"""
NEW_CONFIG = """\
policies: [policies]
api:
  listen: 0.0.0.0:9325
  token: {env: SPELL_TOKEN}
notifiers:
  oncall:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret: {file: KEYFILE}
"""
POLICY = """\
version: 1
policies:
  - name: rotate
    probe: {type: host.disk, every: 1m}
    when: percent > 95
    remediate:
      - http.request:
          url: http://127.0.0.1:9/rotate
          TOKEN_LINE
"""


def write(tmp_path: Path, config: str, token_line: str) -> Path:
    (tmp_path / "policies").mkdir(parents=True, exist_ok=True)
    (tmp_path / "policies" / "rotate.yaml").write_text(POLICY.replace("TOKEN_LINE", token_line))
    (tmp_path / "key").write_text("hook-key\n")
    path = tmp_path / "medic.yaml"
    path.write_text(config.replace("KEYFILE", str(tmp_path / "key")))
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables the configs above name."""
    monkeypatch.setenv("SPELL_TOKEN", "api-s3cret")
    monkeypatch.setenv("SPELL_KEY", "hook-key")
    monkeypatch.setenv("SPELL_ADMIN", "admin-s3cret")


@pytest.mark.usefixtures("env")
def test_old_spellings_resolve_like_the_new_ones(tmp_path: Path) -> None:
    """api.token_env and a webhook's secret_env give the same secrets as the new style."""
    old = load_config(write(tmp_path / "old", OLD_CONFIG, "token_env: SPELL_ADMIN"))
    new = load_config(write(tmp_path / "new", NEW_CONFIG, "token: {env: SPELL_ADMIN}"))
    assert with_api_token(old).api.token == with_api_token(new).api.token == "api-s3cret"
    for config in (old, new):
        hook = WebhookNotifier("oncall", config.notifiers["oncall"].options)
        assert hook.secret_ref is not None and secrets.resolve(hook.secret_ref) == "hook-key"


@pytest.mark.parametrize(("key", "source"), [("token_env", "env"), ("token_file", "file")])
def test_each_old_api_spelling_resolves_and_warns_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, source: str
) -> None:
    """api.token_env and api.token_file still give the token, and carry a notice: the
    file, the line and the new spelling."""
    monkeypatch.setenv("MY_TOKEN", "api-s3cret")
    (tmp_path / "api.token").write_text("api-s3cret\n")
    value = "MY_TOKEN" if source == "env" else str(tmp_path / "api.token")
    path = tmp_path / "medic.yaml"
    path.write_text(f"dry_run: true\napi:\n  {key}: {value}\n")
    config = load_config(path)
    assert with_api_token(config).api.token == "api-s3cret"
    assert [str(n) for n in config.notices] == [
        f"{path}:3:3: warning: api.{key} is an old spelling of a secret "
        f"(hint: write token: {{{source}: {value}}} instead of {key})"
    ]


def test_both_spellings_at_once_are_refused(tmp_path: Path) -> None:
    """api.token with api.token_env is an error at the old key's line."""
    path = tmp_path / "medic.yaml"
    path.write_text("api:\n  token: {env: A}\n  token_env: B\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}:3: api.token and api.token_env both name the token "
        "(hint: keep api.token and remove api.token_env)"
    )


@pytest.mark.usefixtures("env")
def test_validate_prints_every_old_spelling_with_file_and_line(tmp_path: Path) -> None:
    """`medic validate --config` names each old spelling (config and policies) and exits 0."""
    config = write(tmp_path, OLD_CONFIG, "token_env: SPELL_ADMIN")
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    policy = tmp_path / "policies" / "rotate.yaml"
    assert (result.exit_code, result.stdout.splitlines()) == (
        0,
        [
            f"{config}:4:3: warning: api.token_env is an old spelling of a secret "
            "(hint: write token: {env: SPELL_TOKEN} instead of token_env)",
            f"{config}:9:5: warning: notifiers.oncall.secret_env is an old spelling of a secret "
            "(hint: write secret: {env: SPELL_KEY} instead of secret_env)",
            f"{policy}:9:11: warning: policy 'rotate': remediate.0.http.request.token_env is an "
            "old spelling of a secret (hint: write token: {env: SPELL_ADMIN} instead of "
            "token_env)",
            "3 warnings",
            "ok: 1 policy in 1 file",
        ],
    )
    as_json = CliRunner().invoke(main, ["validate", "--config", str(config), "-o", "json"])
    assert [(w["file"], w["line"]) for w in json.loads(as_json.stdout)] == [
        (str(config), 4),
        (str(config), 9),
        (str(policy), 9),
    ]


@pytest.mark.usefixtures("env")
def test_the_new_spelling_works_everywhere_without_a_warning(tmp_path: Path) -> None:
    """Config and policy in the one style: no warning, and the secrets resolve."""
    config = write(tmp_path, NEW_CONFIG, "token: {env: SPELL_ADMIN}")
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert (result.exit_code, result.output) == (0, "ok: 1 policy in 1 file\n")
    loaded = load_config(config)
    assert loaded.notices == ()
    assert with_api_token(loaded).api.token == "api-s3cret"


@pytest.mark.usefixtures("env")
def test_agent_start_logs_old_spellings_never_the_values(tmp_path: Path) -> None:
    """At start the agent logs each old spelling (file, line, hint) and no secret value."""
    config = with_api_token(load_config(write(tmp_path, OLD_CONFIG, "token_env: SPELL_ADMIN")))
    with capture_logs() as logs:
        log_old_spellings(config)
    assert [(e["event"], Path(e["file"]).name, e["line"]) for e in logs] == [
        ("secret.old_spelling", "medic.yaml", 4),
        ("secret.old_spelling", "medic.yaml", 9),
        ("secret.old_spelling", "rotate.yaml", 9),
    ]
    text = repr(logs) + repr(config)
    assert "api-s3cret" not in text and "hook-key" not in text and "admin-s3cret" not in text


def test_cli_references() -> None:
    """`--token` takes env:NAME or file:/path; anything else is refused with the form."""
    assert secrets.parse_cli("env:MEDIC_API_TOKEN") == {"env": "MEDIC_API_TOKEN"}
    assert secrets.parse_cli("file:/etc/medic/token") == {"file": "/etc/medic/token"}
    for bad in ("env:1X", "env:", "file:relative", "vault:x", "NAME"):
        with pytest.raises(secrets.SecretError, match="is not a secret reference"):
            secrets.parse_cli(bad)


def _registries() -> list[Registry[Any]]:
    from medic.actions.base import actions
    from medic.notify.base import notifiers
    from medic.probes.base import probes

    return [probes, actions, notifiers]


def test_every_secret_option_is_a_reference_or_a_marked_old_spelling() -> None:
    """A plugin option whose name looks secret takes {env:}/{file:}, or is an old spelling
    made by secrets.old_spelling (so validate can say what to write instead)."""
    wrong = []
    for registry in _registries():
        for name, cls in registry.items():
            for key, sub in (cls.schema.get("properties") or {}).items():
                reference = sub.get("properties") == secrets.SCHEMA["properties"]
                if is_secret_key(key) and not (reference or secrets.NEW_SPELLING in sub):
                    wrong.append(f"{registry.kind} {name}: {key}")
    assert wrong == []


def test_the_secrets_page_lists_every_plugin_with_a_secret_and_every_page_links_it() -> None:
    """docs/secrets.md names each plugin type with a secret option, and every docs page
    that writes a secret reference links to it (one Secrets section, not many)."""
    root = Path(__file__).resolve().parents[1]
    page = (root / "docs" / "secrets.md").read_text()
    missing = []
    for registry in _registries():
        for name, cls in registry.items():
            properties = (cls.schema.get("properties") or {}).values()
            refs = secrets.SCHEMA["properties"]
            secret = any(sub.get("properties") == refs for sub in properties)
            if secret and f"`{name}`" not in page:
                missing.append(f"{registry.kind} {name}")
    assert missing == []
    unlinked = [
        doc.name
        for doc in sorted((root / "docs").glob("*.md"))
        if doc.name != "secrets.md"
        and any(mark in doc.read_text() for mark in ("{env:", "{file:", "secret reference"))
        and "secrets.md" not in doc.read_text()
    ]
    assert unlinked == []


def test_old_spellings_accept_what_they_accepted_before(tmp_path: Path) -> None:
    """A relative api.token_file (read from the working directory) still loads."""
    path = tmp_path / "medic.yaml"
    path.write_text("api:\n  token_file: secrets/api.token\n")
    assert load_config(path).api.token_ref == {"file": "secrets/api.token"}


def test_boolean_sub_schemas_are_walked_past() -> None:
    """A plugin schema with `true` / `false` sub-schemas (valid JSON Schema) does not crash
    the search for old spellings."""
    from medic.secret_notices import old_keys

    schema = {
        "properties": {"free": True, "token_env": secrets.old_spelling("token", "env")},
        "allOf": [True, {"if": {"properties": {"type": True}}, "then": {}}],
    }
    assert old_keys(schema) == {"token_env"}
    found = secrets.old_spellings(schema, {"free": 1, "token_env": "T"})
    assert [s.hint for s in found] == ["write token: {env: T} instead of token_env"]


def test_every_old_spelling_ends_with_its_source() -> None:
    """`token_env`, `token_file`: the ending the notices look for before they import
    every probe and action module to learn the old keys (secret_notices.OLD_ENDINGS)."""
    from medic.actions.base import actions
    from medic.config_schema import schema as config_schema
    from medic.notify.base import notifiers
    from medic.probes.base import probes

    def walk(schema: Any) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        if isinstance(schema, list):
            for item in schema:
                found += walk(item)
        elif isinstance(schema, dict):
            for key, sub in (schema.get("properties") or {}).items():
                if isinstance(sub, dict) and secrets.NEW_SPELLING in sub:
                    found.append((key, sub[secrets.NEW_SPELLING]["source"]))
            for value in schema.values():
                found += walk(value)
        return found

    schemas = [config_schema()]
    schemas += [cls.schema for reg in (probes, actions, notifiers) for _, cls in reg.items()]
    old = [pair for schema in schemas for pair in walk(schema)]
    assert ("token_env", "env") in old
    assert [key for key, source in old if not key.endswith(f"_{source}")] == []
