"""Which API token a command that talks to the agent sends, and where it found it.

In order: ``--token env:NAME`` (or ``file:/path``); the agent config's (``--config``:
``api.token``); ``$MEDIC_API_TOKEN``; the token the agent made in its state directory
(``<state_dir>/api.token``, from ``--config``, else ``.medic``), which is how the CLI
on the agent's own host works with no token configured anywhere. ``--token-env NAME``
(a bare variable name) is the old spelling of ``--token env:NAME``: it still works, with
a warning on stderr.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click

from medic import secrets
from medic.config import AgentConfig, with_api_token
from medic.errors import ConfigError
from medic.statefiles import API_TOKEN_FILE, read_secret


@dataclass(frozen=True)
class ClientToken:
    """The token to send (None: none found) and where it came from, for messages."""

    value: str | None
    where: str


def client_token(token_env: str | None, config: AgentConfig | None) -> ClientToken:
    """The token to send; ConfigError when a named variable or file cannot be read.

    ``token_env`` is what ``--token`` (or its old name ``--token-env``) says."""
    if token_env:
        ref = _reference(token_env)
        shown = f"--token {next(iter(ref))}:{next(iter(ref.values()))}"
        try:
            return ClientToken(secrets.resolve(ref), shown)
        except secrets.SecretError as exc:
            raise ConfigError(f"{shown}: {exc.message}", hint=_cli_hint(ref)) from exc
    if config is not None:
        value = with_api_token(config).api.token
        if value:
            return ClientToken(value, f"the token {config.source or 'the config'} names")
    if value := os.environ.get("MEDIC_API_TOKEN"):
        return ClientToken(value, "$MEDIC_API_TOKEN")
    path = (config.state_dir if config is not None else Path(".medic")) / API_TOKEN_FILE
    if value := read_secret(path):
        return ClientToken(value, str(path))
    return ClientToken(None, f"none ($MEDIC_API_TOKEN is unset, no readable {path})")


def _cli_hint(ref: dict[str, str]) -> str:
    """How to give this command its token: the variable is read from the shell that runs
    the command, not from the agent's environment."""
    if "env" in ref:
        return f"export {ref['env']}=<token> in this shell, or pass --token file:/path/to/token"
    return "make the file readable by this user, or pass --token env:NAME"


def _reference(text: str) -> dict[str, str]:
    """``env:NAME`` / ``file:/path``; a bare NAME is the old ``--token-env`` spelling."""
    if ":" in text:
        try:
            return secrets.parse_cli(text)
        except secrets.SecretError as exc:
            raise ConfigError(exc.message, hint=exc.hint) from exc
    click.echo(
        f"medic: warning: a bare variable name ({text}) is the old --token-env spelling:"
        f" write --token env:{text}",
        err=True,
    )
    return {"env": text}
