"""Answers to approval requests: approve or deny the action an incident waits for.

Both need the token. The body is optional: ``{"by": "alice", "comment": "go"}``;
without ``by`` the answer is recorded as given by the API client's address. Every
answer is audited (``approval.granted`` / ``approval.denied``) with who gave it.
"""

from __future__ import annotations

from aiohttp import web
from jsonschema import Draft202012Validator

from medic.api.appkeys import VIEW
from medic.api.body import json_body
from medic.api.errors import ApiError, dumps
from medic.engine.approvals import ApprovalNotFound, NotWaiting

ANSWER_HINT = 'optionally send {"by": "who answers", "comment": "why"}'
_ANSWER = Draft202012Validator(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "by": {"type": "string", "minLength": 1, "maxLength": 200},
            "comment": {"type": "string", "maxLength": 2000},
        },
    }
)


async def _answer(request: web.Request, approve: bool) -> web.Response:
    incident = request.match_info["incident"]
    body = await json_body(request, _ANSWER, ANSWER_HINT)
    by = body.get("by") or f"api client {request.remote or 'unknown'}"
    try:
        answer = await request.app[VIEW].answer_approval(
            incident, approve, by, body.get("comment") or None
        )
    except ApprovalNotFound as exc:
        raise ApiError(
            404,
            f"no approval was requested for incident {incident!r}",
            hint=f"GET /api/v1/incidents/{incident} shows what happened in it",
        ) from exc
    except NotWaiting as exc:
        raise ApiError(409, str(exc), code="conflict") from exc
    return web.json_response(answer, dumps=dumps)


async def approve(request: web.Request) -> web.Response:
    """Approve the action an incident waits for; Medic acts at once, within its limits."""
    return await _answer(request, True)


async def deny(request: web.Request) -> web.Response:
    """Deny the action an incident waits for; Medic does nothing more for that incident."""
    return await _answer(request, False)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/incidents/{incident}/approve", approve),
        web.post("/api/v1/incidents/{incident}/deny", deny),
    ]
