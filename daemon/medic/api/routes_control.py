"""Routes that change the agent's state. Every one of them needs the API token.

``POST /api/v1/reload`` takes no body; one that is not empty or ``{}`` is a 400, like
every other body the API does not understand.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from medic.api.appkeys import VIEW
from medic.api.body import json_body
from medic.api.errors import ApiError, dumps
from medic.errors import MedicError
from medic.policy.quickcheck import SchemaCheck

log = structlog.get_logger("medic.api")

_NO_BODY = SchemaCheck({"type": "object", "additionalProperties": False})


async def reload(request: web.Request) -> web.Response:
    """Reload the policy files now; answers which policies loaded and which files failed."""
    await json_body(request, _NO_BODY, "send no body, or {}")
    try:
        result = await request.app[VIEW].reload()
    except MedicError as exc:
        log.warning("api.reload_failed", error=exc.message)
        raise ApiError(
            500, f"reload failed: {exc.message}", code="reload_failed", hint=exc.hint
        ) from exc
    log.info("api.reload", loaded=len(result.get("loaded", [])))
    return web.json_response(result, dumps=dumps)


def routes() -> list[web.RouteDef]:
    return [web.post("/api/v1/reload", reload)]
