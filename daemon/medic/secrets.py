"""Secrets (DSNs, tokens, passwords) are referenced, never written into policies or config.

A secret option is written as a reference, and resolved only when it is used:

    dsn: {env: APP_DATABASE_URL}          # from the agent's environment
    token: {file: /etc/medic/app.token}   # from a file (trailing newline stripped)

That is the one spelling, in policies, the agent config and the CLI
(``--token env:NAME``). Older spellings (``token_env: NAME``, ``api.token_file:
/path``, a webhook's ``secret_env``) still work: their schema is made by
:func:`old_spelling`, which marks them deprecated and names the new key, so
:func:`old_spellings` can tell ``medic validate`` and the agent what to write instead.

The resolved value never enters logs, the audit log or API output: objects hold the
reference, and :func:`medic.redact.redact` masks anything that looks secret anyway.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from medic.errors import MedicError
from medic.regular_file import read_regular

ENV_NAME_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$"
Source = Literal["env", "file"]
MAX_FILE_BYTES = 64 * 1024  # a token, a DSN, a key: never more

# JSON Schema for an option that takes a secret reference.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A secret: {env: NAME} or {file: /path}; never the value itself.",
    "properties": {
        "env": {"type": "string", "pattern": ENV_NAME_PATTERN},
        "file": {"type": "string", "pattern": "^/"},
    },
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}

# The annotation on an old spelling's schema: the key and source that replace it.
NEW_SPELLING = "x-medic-new-spelling"


def schema(description: str) -> dict[str, Any]:
    """The schema fragment of a secret option, with what the secret is for."""
    return {**SCHEMA, "description": f"{description} A secret: {{env: NAME}} or {{file: /path}}."}


def old_spelling(new_key: str, source: Source, description: str = "") -> dict[str, Any]:
    """The schema of an old way to name a secret (``token_env: NAME``): still accepted
    as it was (add the ``pattern`` it had, if any), marked ``deprecated`` for editors,
    and pointing at ``new_key: {source: ...}``."""
    return {
        "type": "string",
        "deprecated": True,
        "description": f"Old spelling: write {new_key}: {{{source}: ...}}. {description}".strip(),
        NEW_SPELLING: {"key": new_key, "source": source},
    }


def option(
    options: Mapping[str, Any], key: str, *, env: str | None = None, file: str | None = None
) -> Mapping[str, str] | None:
    """The reference under ``key``, else one made from the old spellings ``env`` (a
    variable name) or ``file`` (a path) when given; None when none is set."""
    ref = options.get(key)
    if isinstance(ref, Mapping):
        return ref
    if env and options.get(env):
        return {"env": str(options[env])}
    if file and options.get(file):
        return {"file": str(options[file])}
    return None


@dataclass(frozen=True)
class Spelling:
    """An old spelling found in a file: where (the key path), and what to write instead."""

    path: tuple[str | int, ...]
    key: str
    new_key: str
    source: str
    value: str

    @property
    def hint(self) -> str:
        return f"write {self.new_key}: {{{self.source}: {self.value}}} instead of {self.key}"


def old_spellings(schema: Any, instance: Any, path: tuple[str | int, ...] = ()) -> list[Spelling]:
    """Every old spelling in ``instance`` (a document ``schema`` accepts), found by
    following the schema: properties, items, and the branches that apply (an
    ``if: {properties: {type: {const: ...}}}`` that matches, a ``oneOf`` / ``anyOf``
    branch whose required keys are all present)."""
    if not isinstance(schema, Mapping):
        return []
    out: list[Spelling] = []
    for branch in _branches(schema, instance):
        out.extend(old_spellings(branch, instance, path))
    if isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        for index, item in enumerate(instance):
            out.extend(old_spellings(schema["items"], item, (*path, index)))
    if not isinstance(instance, Mapping):
        return out
    properties = schema.get("properties") or {}
    for key, value in instance.items():
        sub = properties.get(key, schema.get("additionalProperties"))
        if not isinstance(sub, Mapping):
            continue
        new = sub.get(NEW_SPELLING)
        if new and isinstance(value, str):
            out.append(Spelling((*path, key), key, new["key"], new["source"], value))
        else:
            out.extend(old_spellings(sub, value, (*path, key)))
    return out


def _branches(schema: Mapping[str, Any], instance: Any) -> list[Any]:
    """The sub-schemas of ``allOf`` / ``oneOf`` / ``anyOf`` that apply to ``instance``."""
    out: list[Any] = []
    for item in schema.get("allOf") or ():
        if not isinstance(item, Mapping):  # `true` / `false`: a schema with no keys
            continue
        if "if" not in item:
            out.append(item)
        elif _matches(item["if"], instance):
            out.append(item.get("then"))
    for item in (*(schema.get("oneOf") or ()), *(schema.get("anyOf") or ())):
        if isinstance(item, Mapping) and _applies(item, instance):
            out.append(item)
    return out


def _applies(branch: Mapping[str, Any], instance: Any) -> bool:
    """A ``oneOf`` / ``anyOf`` branch for objects whose required keys are all present."""
    required = branch.get("required") or ()
    if not isinstance(instance, Mapping) or "properties" not in branch:
        return False
    return all(key in instance for key in required)


def _matches(condition: Mapping[str, Any], instance: Any) -> bool:
    """Whether ``instance`` meets an ``if`` made of ``const`` properties (the registry's
    dispatch on ``type``)."""
    if not isinstance(instance, Mapping):
        return False
    for key, sub in (condition.get("properties") or {}).items():
        if isinstance(sub, Mapping) and "const" in sub and instance.get(key) != sub["const"]:
            return False
    return True


class SecretError(MedicError):
    """A secret reference that cannot be resolved (unset variable, unreadable file)."""


def resolve(ref: Mapping[str, str]) -> str:
    """The secret's value. Raises SecretError naming the reference (never a value)."""
    if "env" in ref:
        value = os.environ.get(ref["env"])
        if not value:
            raise SecretError(
                f"environment variable {ref['env']} is not set",
                hint=f"set {ref['env']} in the agent's environment (systemd: EnvironmentFile=)",
            )
        return value
    if "file" in ref:
        return _read_file(ref["file"])
    raise SecretError("a secret reference needs `env` or `file`", hint="e.g. {env: APP_TOKEN}")


def _read_file(path: str) -> str:
    """A secret file's text: a regular file of at most MAX_FILE_BYTES, read without
    blocking (a FIFO or a device there is an error, not a hang)."""
    try:
        data = read_regular(path, MAX_FILE_BYTES)
    except OSError as exc:
        raise SecretError(
            f"cannot read secret file {path}: {exc.strerror}",
            hint="point file at a regular file that holds only the secret",
        ) from exc
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise SecretError(
            f"cannot read secret file {path}: not UTF-8 text", hint="write the secret as text"
        ) from exc


def parse_cli(text: str) -> dict[str, str]:
    """A reference written on a command line: ``env:NAME`` or ``file:/path``."""
    source, sep, name = text.partition(":")
    ref = {source.strip(): name.strip()} if sep else {}
    if (ref.get("env") and _env_name(ref["env"])) or ref.get("file", "").startswith("/"):
        return ref
    raise SecretError(
        f"{text!r} is not a secret reference", hint="write env:NAME or file:/path/to/token"
    )


def _env_name(name: str) -> bool:
    return re.fullmatch(ENV_NAME_PATTERN.strip("^$"), name) is not None


def describe(ref: Mapping[str, str]) -> str:
    """How to talk about the secret in messages: where it comes from, not what it is."""
    if "env" in ref:
        return f"${ref['env']}"
    return f"file {ref.get('file', '?')}"
