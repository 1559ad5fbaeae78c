"""The fleet's review page: the agent's web page and ``/api/v1/review/...`` routes over
the central PostgreSQL every agent ships its audit to (``medic fleet review``).

Read-only by construction: the app has no route that changes anything (no silences,
approvals, reloads: those belong to each agent), and every database session is opened
with ``default_transaction_read_only``. The same middlewares as the agent's API guard
it: the Host header check and the token rules (docs/api.md), with this server's own
listen address and the config's ``api.allowed_hosts`` and token.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from medic import __version__
from medic.api import routes_index, routes_review
from medic.api.appkeys import API, REVIEW, TOKEN, ApiToken
from medic.api.auth import auth_middleware
from medic.api.errors import dumps, error_middleware
from medic.api.hosts import host_middleware
from medic.api.review_source import CENTRAL_DOWN_HINT, CentralReview
from medic.api.server import (
    MAX_LINE,
    SHUTDOWN_TIMEOUT,
    ApiServer,
    StructlogAccessLogger,
    bind_error,
)
from medic.audit.review_db import ReviewDb
from medic.config import ApiConfig
from medic.errors import ConfigError, FleetError

if TYPE_CHECKING:
    import asyncpg

STARTED: web.AppKey[float] = web.AppKey("started")
POOL_SIZE = 4
# The longest one query may run on the central server before it stops it.
COMMAND_TIMEOUT = 30.0


async def health(request: web.Request) -> web.Response:
    """Liveness of the central view: version, uptime, how many hosts and policies it holds."""

    def count(db: ReviewDb) -> tuple[int, int]:
        row = db.rows("SELECT count(DISTINCT host), count(DISTINCT policy) FROM incidents")[0]
        return int(row[0]), int(row[1])

    hosts, policies = await request.app[REVIEW].read(count, (0, 0))
    body = {
        "status": "ok",
        "view": "central",
        "version": __version__,
        "host": f"fleet ({hosts} hosts)",
        "hosts": hosts,
        "uptime_seconds": round(max(0.0, time.time() - request.app[STARTED]), 3),
        "policies": policies,
    }
    return web.json_response(body, dumps=dumps)


def create_central_app(api: ApiConfig, token: ApiToken, pool: asyncpg.Pool) -> web.Application:
    """The central review application: the page, introspection, health, review routes."""
    app = web.Application(middlewares=[error_middleware, host_middleware, auth_middleware])
    app[API] = lambda: api
    app[TOKEN] = token
    app[REVIEW] = CentralReview(pool)
    app[STARTED] = time.time()
    app.add_routes([web.get("/health", health)])
    app.add_routes(routes_index.routes())
    app.add_routes(routes_review.routes())
    return app


async def open_pool(dsn: str) -> asyncpg.Pool:
    """A small pool of read-only sessions on the central database."""
    import asyncpg

    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=1,
            max_size=POOL_SIZE,
            timeout=5,
            command_timeout=COMMAND_TIMEOUT,
            server_settings={"default_transaction_read_only": "on"},
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise FleetError(  # the type only: an asyncpg message may quote the DSN
            f"central audit database unreachable: {type(exc).__name__} (hint: {CENTRAL_DOWN_HINT})"
        ) from exc
    assert pool is not None
    return pool


async def start_central(api: ApiConfig, token: ApiToken, pool: asyncpg.Pool) -> ApiServer:
    """Serve the central review page on ``api.host``:``api.port`` (0 picks a free port)."""
    if not api.loopback and not token.value:
        raise ConfigError(
            f"the fleet review page would listen on {api.host}, beyond loopback, without a token",
            hint="set api.token: {env: NAME} in the config, or listen on 127.0.0.1",
        )
    runner = web.AppRunner(
        create_central_app(api, token, pool),
        access_log_class=StructlogAccessLogger,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        max_line_size=MAX_LINE,
        max_field_size=MAX_LINE,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, api.host, api.port).start()
    except OSError as exc:
        await runner.cleanup()
        raise bind_error(api.host, api.port, exc, None) from exc
    return ApiServer(runner, api.host, int(runner.addresses[0][1]))
