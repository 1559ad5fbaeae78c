"""Answers to approval requests: approve or deny the action an incident waits for;
and acknowledging an incident (a human has seen it).

All need the token. The body is optional: ``{"by": "alice", "comment": "go"}``;
without ``by`` the answer is recorded as given by the API client's address. Every
answer is audited (``approval.granted`` / ``approval.denied`` /
``incident.acknowledged``) with who gave it. The incident may be given by a unique
prefix of its id. Messages carry signed links to the same answers
(:mod:`medic.api.routes_links`), which need no token.
"""

from __future__ import annotations

import time

from aiohttp import web

from medic.api.acknowledge import NoSuchIncident, acknowledge
from medic.api.appkeys import VIEW
from medic.api.body import json_body
from medic.api.errors import ApiError, dumps
from medic.api.ids import incident_id
from medic.errors import ApprovalNotFound, NotWaiting
from medic.policy.quickcheck import SchemaCheck

ANSWER_HINT = 'optionally send {"by": "who answers", "comment": "why"}'
_ANSWER = SchemaCheck(
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
    incident = await incident_id(request.app[VIEW], request.match_info["incident"])
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


async def ack(request: web.Request) -> web.Response:
    """Acknowledge an incident: audit that a human has seen it; Medic's course is unchanged."""
    incident = await incident_id(request.app[VIEW], request.match_info["incident"])
    body = await json_body(request, _ANSWER, ANSWER_HINT)
    by = body.get("by") or f"api client {request.remote or 'unknown'}"
    try:
        answer = await acknowledge(
            request.app[VIEW].audit, incident, by, time.time(), via="api",
            comment=body.get("comment") or None,
        )  # fmt: skip
    except NoSuchIncident as exc:
        raise ApiError(
            404,
            f"no incident {incident!r} in the audit log",
            hint="GET /api/v1/incidents lists recent incidents",
        ) from exc
    return web.json_response(answer, dumps=dumps)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/incidents/{incident}/approve", approve),
        web.post("/api/v1/incidents/{incident}/deny", deny),
        web.post("/api/v1/incidents/{incident}/ack", ack),
    ]
