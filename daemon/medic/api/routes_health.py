"""Liveness and Prometheus metrics: what health checks and scrapers call.

``/health`` is what the Docker HEALTHCHECK and systemd's watchdog script poll; it is
cheap (no database query) and answers as long as the event loop turns: 200 when
healthy, 503 with the reasons when the agent cannot do its job (its audit log cannot
be written, so it does not act).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from medic import __version__
from medic.api.appkeys import VIEW
from medic.api.errors import dumps
from medic.metric_types import CONTENT_TYPE


async def health(request: web.Request) -> web.Response:
    """Liveness: version, host, uptime, how many policies run and files were rejected."""
    view = request.app[VIEW]
    problems = view.problems()
    body: dict[str, Any] = {
        "status": "unhealthy" if problems else "ok",
        "version": __version__,
        "host": view.config.host,
        "uptime_seconds": round(max(0.0, time.time() - view.started_at), 3),
        "policies": len(view.policy_states()),
        "rejected_files": len(view.rejected_files()),
    }
    if problems:
        body["reason"] = "; ".join(p["reason"] for p in problems)
        body["problems"] = problems
    return web.json_response(body, status=503 if problems else 200, dumps=dumps)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the agent's own metrics."""
    payload = request.app[VIEW].metrics.text()
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE})


def routes() -> list[web.RouteDef]:
    return [web.get("/health", health), web.get("/metrics", metrics)]
