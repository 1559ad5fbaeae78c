"""Secrets (DSNs, tokens, passwords) are referenced, never written into policies or config.

A secret option is written as a reference, and resolved only when it is used:

    dsn: {env: APP_DATABASE_URL}          # from the agent's environment
    token: {file: /etc/medic/app.token}   # from a file (trailing newline stripped)

The resolved value never enters logs, the audit log or API output: objects hold the
reference, and :func:`medic.redact.redact` masks anything that looks secret anyway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medic.errors import MedicError

# JSON Schema for an option that takes a secret reference.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A secret: {env: NAME} or {file: /path}; never the value itself.",
    "properties": {
        "env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "file": {"type": "string", "pattern": "^/"},
    },
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": False,
}


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
        try:
            return Path(ref["file"]).read_text().strip()
        except OSError as exc:
            raise SecretError(f"cannot read secret file {ref['file']}: {exc.strerror}") from exc
    raise SecretError("a secret reference needs `env` or `file`", hint="e.g. {env: APP_TOKEN}")


def describe(ref: Mapping[str, str]) -> str:
    """How to talk about the secret in messages: where it comes from, not what it is."""
    if "env" in ref:
        return f"${ref['env']}"
    return f"file {ref.get('file', '?')}"
