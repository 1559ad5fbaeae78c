"""The one HTTP client of the CLI: every command that asks the running agent.

``medic status``, ``medic silence`` and ``medic approve`` / ``deny`` / ``ack`` find the
agent the same way (``--url``, else ``--config``'s ``api.listen``, else
:data:`DEFAULT_URL`), send the token :mod:`medic.cli.client_token` finds (``--token``,
the config's, ``MEDIC_API_TOKEN``, the agent's own ``<state_dir>/api.token``), and
explain a failure with one set of hints (:func:`explain`): nothing listening, no answer
in time, a refused token, the agent's own error message and hint. Plain ``urllib`` with
a timeout: a command must answer quickly even when the agent is wedged.
"""

from __future__ import annotations

import getpass
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, TypeVar

import click

from medic import humanize
from medic.cli.client_token import client_token
from medic.config import DEFAULT_PORT, AgentConfig, load_config
from medic.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
TIMEOUT = 5.0


class AgentRefused(click.ClickException):
    """Printed as ``medic <command>: <message>`` on stderr; exit status 1 (a command
    can pass its own subclass, as ``medic status`` does for its 2)."""

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


def url_from_config(config: AgentConfig) -> str:
    """Where the agent's API answers on this host, from ``api.listen``."""
    host = config.api.host
    if host in {"", "0.0.0.0"}:  # noqa: S104 -- reading a wildcard bind, not binding one
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{config.api.port}"


def connection_options(fn: F) -> F:
    """``--url``, ``--config`` and ``--token``: how every command that asks the
    running agent finds its API and token."""
    fn = click.option(
        "--token",
        "--token-env",
        "token_env",
        metavar="REF",
        help="Where the API token is: env:NAME or file:/path (--token-env NAME is the old "
        "spelling of --token env:NAME).",
    )(fn)
    fn = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Agent config file whose api.listen and token to use.",
    )(fn)
    return click.option(
        "--url", help=f"The agent's API [default: from --config, else {DEFAULT_URL}]."
    )(fn)


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def _timed_out(exc: BaseException) -> bool:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, TimeoutError)


class AgentClient:
    """The running agent's API as one command sees it: its URL, token and hints."""

    def __init__(
        self,
        command: str,
        url: str | None,
        config_path: Path | None,
        token_env: str | None,
        *,
        failure: type[AgentRefused] = AgentRefused,
    ) -> None:
        self.command = command
        self.failure = failure
        config: AgentConfig | None = None
        if config_path is not None:
            try:
                config = load_config(config_path)
            except ConfigError as exc:
                raise self.refused(str(exc)) from exc
        base = (url or (url_from_config(config) if config else DEFAULT_URL)).rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise self.refused(f"--url {base!r} is not an http:// or https:// URL")
        self.base = base
        try:
            found = client_token(token_env, config)
        except ConfigError as exc:
            raise self.refused(str(exc)) from exc
        self.token = found.value
        self.token_from = found.where

    def refused(self, message: str) -> AgentRefused:
        """The error this command prints and exits with."""
        return self.failure(self.command, message)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        answers: Collection[int] = (),
    ) -> Any:
        """Send ``body`` as JSON; the agent's JSON answer, or AgentRefused. A status in
        ``answers`` (``/health``'s 503: alive but unhealthy) is an answer, not a failure."""
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
            raw = exc.read()
            if exc.code not in answers or not _is_json(raw):
                raise self.refused(self.explain(exc.code, exc.reason, raw)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise self.refused(self.unreachable(exc)) from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise self.refused(
                f"{self.base}{path} did not answer like a medic agent (not JSON)"
            ) from exc

    def unreachable(self, exc: BaseException) -> str:
        """Why no answer came: nothing listening, no answer in time, or the network."""
        if _timed_out(exc):
            return (
                f"the agent at {self.base} did not answer within {humanize.seconds(TIMEOUT)}"
                " (it accepted the connection: it is busy or stuck; see its log)"
            )
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, ConnectionRefusedError):
            return f"no agent answering at {self.base} (start it with: medic run)"
        return f"cannot reach the agent at {self.base}: {reason}"

    def explain(self, code: int, reason: str, raw: bytes) -> str:
        """The agent's refusal: its own message and hint, and for a 401 where this
        command's token came from (or that it found none, and how to give it one)."""
        try:
            error = json.loads(raw)["error"]
            text = f"the agent at {self.base} answered {code}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            return f"the agent at {self.base} answered {code} {reason}"
        if code == 401 and not self.token:
            return text + (
                f" (this command found no token: {self.token_from}; on the agent's host pass"
                " --config with the agent's config file, which reads the token it names or the"
                " one in its state_dir; else set MEDIC_API_TOKEN or pass --token env:NAME)"
            )
        if code == 401:
            return text + f" (this command sent the token from {self.token_from})"
        hint = error.get("hint") if isinstance(error, dict) else None
        return text + (f" (hint: {hint})" if hint else "")
