"""Start and stop the API inside the agent's event loop.

The agent calls ``server = await start_api(view)`` after loading its config and
``await server.stop()`` on shutdown. Access lines go through structlog (event
``api.request``) like every other log line, never aiohttp's Apache-style format, and
carry neither headers nor the token. They are at debug level (a busy dashboard or
scraper would otherwise fill the journal), except answers of 500 and above: those are
the agent's own failures and are logged as errors.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from medic.api.app import create_app
from medic.api.appkeys import ApiToken
from medic.api.auth import SIGNED_PREFIX, configured_token
from medic.config import AgentConfig
from medic.errors import ConfigError
from medic.statefiles import API_TOKEN_FILE, ensure_secret

if TYPE_CHECKING:
    from pathlib import Path

    from medic.api.view import AgentView

log = structlog.get_logger("medic.api")

# How long in-flight requests may run on when the agent stops.
SHUTDOWN_TIMEOUT = 5.0
# The longest request line and header aiohttp's parser reads (its default is 8190):
# long enough that an over-long query value reaches the routes and gets the envelope.
MAX_LINE = 32 * 1024


class StructlogAccessLogger(AbstractAccessLogger):
    """One structured ``api.request`` line per request: method, path, status, duration.

    Debug level, or error when the agent failed (status 500 and above)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        path = request.path
        if path.startswith(SIGNED_PREFIX):  # a link's token is a credential until used
            path = SIGNED_PREFIX + "[token]"
        fields = {
            "method": request.method,
            "path": path,
            "status": response.status,
            "duration_ms": round(time * 1000, 2),
            "remote": request.remote,
        }
        if request.query_string:
            fields["query"] = request.query_string
        if response.status >= 500:
            log.error("api.request", **fields)
        else:
            log.debug("api.request", **fields)


class ApiServer:
    """A running API: where it listens, and how to stop it."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop listening, let in-flight requests finish (bounded), free the port."""
        await self._runner.cleanup()
        log.info("api.stopped", url=self.url)


def bind_error(host: str, port: int, exc: OSError, source: Path | None) -> ConfigError:
    """One line saying which address failed, why, and which setting to change."""
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        why = "is already in use (is another medic running?)"
    elif exc.errno == errno.EADDRNOTAVAIL:
        why = "is not an address of this host"
    elif exc.errno == errno.EACCES:
        why = "needs privileges this process does not have (use a port above 1023)"
    else:
        why = f"cannot be listened on: {exc.strerror or exc}"
    return ConfigError(
        f"the API address {shown} {why}",
        file=str(source) if source else None,
        hint="change api.listen in the agent config or pass --listen; or set api.enabled: false",
    )


def agent_token(config: AgentConfig) -> ApiToken:
    """The config's token, else the one kept in the state directory (made on first
    start, mode 0600) so that the CLI on this host can change things at once."""
    if config.api.token:
        return configured_token(config.api)
    path = config.state_dir / API_TOKEN_FILE
    try:
        return ApiToken(ensure_secret(path), str(path))
    except ConfigError as exc:
        log.warning("api.no_token", error=exc.message, hint=exc.hint)
        return ApiToken(None, str(path))


async def start_api(view: AgentView) -> ApiServer:
    """Serve the API for ``view`` on ``config.api`` host and port (0 picks a free port)."""
    api = view.config.api
    token = agent_token(view.config)
    runner = web.AppRunner(
        create_app(view, token),
        access_log_class=StructlogAccessLogger,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        max_line_size=MAX_LINE,
        max_field_size=MAX_LINE,
    )
    await runner.setup()
    site = web.TCPSite(runner, api.host, api.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise bind_error(api.host, api.port, exc, view.config.source) from exc
    port = int(runner.addresses[0][1])
    server = ApiServer(runner, api.host, port)
    log.info(
        "api.listening",
        url=server.url,
        loopback=api.loopback,
        token_configured=bool(token.value),
        token_from=token.where,
    )
    return server
