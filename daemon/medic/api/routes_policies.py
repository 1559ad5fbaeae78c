"""Loaded policies with the live state of each of their targets."""

from __future__ import annotations

from aiohttp import web

from medic.api.appkeys import VIEW
from medic.api.errors import ApiError, dumps


async def list_policies(request: web.Request) -> web.Response:
    """Every loaded policy with its targets' live state, and the rejected policy files."""
    view = request.app[VIEW]
    body = {"policies": view.policy_states(), "rejected": view.rejected_files()}
    return web.json_response(body, dumps=dumps)


async def get_policy(request: web.Request) -> web.Response:
    """One loaded policy with its targets' live state."""
    name = request.match_info["name"]
    for policy in request.app[VIEW].policy_states():
        if policy.get("name") == name:
            return web.json_response(policy, dumps=dumps)
    raise ApiError(
        404,
        f"no policy named {name!r} is loaded",
        hint="GET /api/v1/policies lists the loaded policies and the rejected files",
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/policies", list_policies),
        web.get("/api/v1/policies/{name}", get_policy),
    ]
