"""Talking to the running agent's API from commands that change its state.

``medic silence`` and ``medic approve`` / ``medic deny`` send a request with a JSON
body and the bearer token, and print the agent's own error message (with its hint)
when it refuses. The URL and token come from the same places as for ``medic status``:
``--url``, else ``--config``'s ``api.listen``; the token as
:mod:`medic.cli.client_token` finds it (``--token``, the config's, ``MEDIC_API_TOKEN``,
the agent's own ``<state_dir>/api.token``). Plain ``urllib`` with a timeout.
"""

from __future__ import annotations

import getpass
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from medic.cli.client_token import client_token
from medic.cli.status import DEFAULT_URL, TIMEOUT, url_from_config
from medic.config import AgentConfig, load_config
from medic.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


class AgentRefused(click.ClickException):
    """Printed as ``medic <command>: <message>`` on stderr, exit status 1."""

    def __init__(self, command: str, message: str) -> None:
        super().__init__(message)
        self.command = command

    def show(self, file: Any = None) -> None:
        click.echo(f"medic {self.command}: {self.message}", err=True)


def who() -> str:
    """``user@host``: the default author of a silence and answerer of an approval."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class AgentClient:
    def __init__(
        self, command: str, url: str | None, config_path: Path | None, token_env: str | None
    ) -> None:
        self.command = command
        config: AgentConfig | None = None
        if config_path is not None:
            try:
                config = load_config(config_path)
            except ConfigError as exc:
                raise AgentRefused(command, str(exc)) from exc
        base = (url or (url_from_config(config) if config else DEFAULT_URL)).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise AgentRefused(command, f"--url {base!r} is not an http:// or https:// URL")
        self.base = base
        try:
            found = client_token(token_env, config)
        except ConfigError as exc:
            raise AgentRefused(command, str(exc)) from exc
        self.token = found.value
        self.token_from = found.where

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send ``body`` as JSON; the agent's JSON answer, or AgentRefused."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(  # noqa: S310 -- the operator's own --url, http(s) only (checked)
            self.base + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 -- same URL as above
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise AgentRefused(self.command, self._refusal(exc)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise AgentRefused(
                self.command, f"no agent answering at {self.base} (start it with: medic run)"
            ) from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise AgentRefused(
                self.command, f"{self.base}{path} did not answer like a medic agent (not JSON)"
            ) from exc

    def _refusal(self, exc: urllib.error.HTTPError) -> str:
        try:
            error = json.loads(exc.read())["error"]
            text = f"the agent answered {exc.code}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            return f"the agent at {self.base} answered {exc.code} {exc.reason}"
        if exc.code == 401 and not self.token:
            return text + (
                f" (this command found no token: {self.token_from}; on the agent's host pass"
                " --config with the agent's config file, which reads the token it names or the"
                " one in its state_dir; else set MEDIC_API_TOKEN or pass --token env:NAME)"
            )
        if exc.code == 401:
            return text + f" (this command sent the token from {self.token_from})"
        return text + (f" (hint: {error['hint']})" if error.get("hint") else "")
