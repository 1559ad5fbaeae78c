"""Which API token a command that talks to the agent sends, and where it found it.

In order: ``--token-env NAME``; the agent config's (``--config``: ``api.token_env``,
``api.token_file``); ``$MEDIC_API_TOKEN``; the token the agent made in its state
directory (``<state_dir>/api.token``, from ``--config``, else ``.medic``), which is how
the CLI on the agent's own host works with no token configured anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from medic.config import AgentConfig, with_api_token
from medic.errors import ConfigError
from medic.statefiles import API_TOKEN_FILE, read_secret


@dataclass(frozen=True)
class ClientToken:
    """The token to send (None: none found) and where it came from, for messages."""

    value: str | None
    where: str


def client_token(token_env: str | None, config: AgentConfig | None) -> ClientToken:
    """The token to send; ConfigError when a named variable or file cannot be read."""
    if token_env:
        value = os.environ.get(token_env)
        if not value:
            raise ConfigError(f"--token-env names {token_env} but it is not set")
        return ClientToken(value, f"--token-env {token_env}")
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
