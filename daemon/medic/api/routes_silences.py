"""Silences: list them, create one, end one early. Creating and ending need the token.

A silence covers the policies and targets its matchers name (policy and target globs,
exact policy labels) from ``starts`` (now by default) to ``ends`` (or for
``duration``). While it lasts Medic keeps probing and auditing, pages nobody, and acts
only if ``act`` is true. Maintenance windows from the config and policies are listed
too; they change with their files, not here.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from medic.api.appkeys import VIEW
from medic.api.body import bad_body, json_body
from medic.api.errors import ApiError, dumps
from medic.api.ids import silence_id as silence_prefix
from medic.bounds import OutOfBounds, duration, moment
from medic.config_schema import MATCHERS_SCHEMA
from medic.errors import BadSilence, SilenceEnded, SilenceNotFound
from medic.policy.quickcheck import SchemaCheck

CREATE_HINT = (
    'send {"matchers": {"policy": "web-*"}, "duration": "1h", "reason": "...", '
    '"author": "..."}; optional: "ends" or "starts" (ISO times), "act": true'
)
EXPIRE_HINT = 'optionally send {"by": "who ends it"}'

_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["matchers", "reason", "author"],
    "properties": {
        "matchers": MATCHERS_SCHEMA,
        "duration": {"type": ["string", "number"]},
        "ends": {"type": "string", "minLength": 1},
        "starts": {"type": "string", "minLength": 1},
        "reason": {"type": "string", "minLength": 1, "maxLength": 1000},
        "author": {"type": "string", "minLength": 1, "maxLength": 200},
        "act": {"type": "boolean"},
    },
}
_EXPIRE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"by": {"type": "string", "minLength": 1, "maxLength": 200}},
}


@functools.cache
def _validator(which: str) -> SchemaCheck:
    return SchemaCheck(_CREATE if which == "create" else _EXPIRE)


def _time(body: dict[str, Any], key: str) -> float | None:
    """An ISO time from 2000 to 2100 (UTC when it has no offset), or None when absent."""
    if key not in body:
        return None
    try:
        return moment(body[key])
    except OutOfBounds as exc:
        raise bad_body(f"{key}: {exc.message}", exc.hint or CREATE_HINT) from None


async def list_silences(request: web.Request) -> web.Response:
    """Ad-hoc silences that have not ended, and every maintenance window with its next start."""
    return web.json_response({"silences": request.app[VIEW].silences()}, dumps=dumps)


async def create_silence(request: web.Request) -> web.Response:
    """Create a silence: matchers, duration or ends, reason, author, act (default false)."""
    body = await json_body(request, _validator("create"), CREATE_HINT)
    starts = _time(body, "starts")
    ends = _time(body, "ends")
    if ("duration" in body) == (ends is not None):
        raise bad_body("give either duration or ends", CREATE_HINT)
    length = None
    if "duration" in body:
        try:
            length = duration(body["duration"])
        except OutOfBounds as exc:
            raise bad_body(f"duration: {exc}", CREATE_HINT) from None
    try:
        silence = await request.app[VIEW].add_silence(
            matchers=body["matchers"],
            ends=ends,
            duration=length,
            author=body["author"],
            reason=body["reason"],
            act=body.get("act", False),
            starts=starts,
        )
    except BadSilence as exc:
        raise bad_body(str(exc), CREATE_HINT) from exc
    return web.json_response(silence, status=201, dumps=dumps)


async def expire_silence(request: web.Request) -> web.Response:
    """End a silence now (a unique prefix of its id will do); not maintenance windows."""
    silence_id = silence_prefix(request.app[VIEW], request.match_info["silence"])
    body = await json_body(request, _validator("expire"), EXPIRE_HINT)
    by = body.get("by") or f"api client {request.remote or 'unknown'}"
    try:
        silence = await request.app[VIEW].expire_silence(silence_id, by)
    except SilenceNotFound as exc:
        raise ApiError(
            404, f"no silence {silence_id!r}", hint="GET /api/v1/silences lists them"
        ) from exc
    except SilenceEnded as exc:
        raise ApiError(409, str(exc), code="conflict") from exc
    return web.json_response(silence, dumps=dumps)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/silences", list_silences),
        web.post("/api/v1/silences", create_silence),
        web.delete("/api/v1/silences/{silence}", expire_silence),
    ]
