"""The one JSON error envelope every failing request gets.

Whatever goes wrong — an unknown route, a wrong method, a missing token, a bad query
parameter or a bug — the client receives the same shape, so scripts and the web page
handle errors in one place::

    {"error": {"status": 404, "code": "not_found", "message": "...", "hint": "..."}}

``hint`` is present when there is something useful to say about the fix. A
:class:`~medic.errors.MedicError` (raised on purpose, written for people) becomes a 500
carrying its message; any other exception is logged with its traceback and answered
with a 500 that leaks nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from medic.errors import MedicError

log = structlog.get_logger("medic.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Stable machine-readable codes for the statuses aiohttp raises by itself.
CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    421: "misdirected_request",
    500: "internal_error",
    503: "unavailable",
}

ROUTES_HINT = "GET /api/v1/ lists every route"


def dumps(data: Any) -> str:
    """JSON text for a response; values JSON does not know (paths, sets) become strings."""
    return json.dumps(data, default=str, ensure_ascii=False)


class ApiError(Exception):
    """An error the API answers on purpose, rendered as the envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.hint = hint
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.hint:
            error["hint"] = self.hint
        return {"error": error}

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status, headers=self.headers, dumps=dumps)


def bad_parameter(name: str, message: str, hint: str) -> ApiError:
    """A 400 naming the query parameter at fault and how to write it."""
    return ApiError(400, f"{name}: {message}", code="bad_parameter", hint=hint)


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> ApiError:
    """The envelope for an error aiohttp raised itself (no route, wrong method, ...)."""
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        return ApiError(
            405,
            f"{request.method} is not allowed on {request.path}",
            hint=f"use {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    if isinstance(exc, web.HTTPNotFound):
        return ApiError(404, f"no such route: {request.path}", hint=ROUTES_HINT)
    return ApiError(exc.status, exc.reason)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure of the handlers and middlewares inside into the envelope."""
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and other non-errors pass through unchanged
        return _from_http_exception(request, exc).response()
    except asyncio.CancelledError:
        raise
    except MedicError as exc:
        # Raised on purpose (the audit store is closed, ...): its message is written
        # for people and safe to show.
        log.warning("api.agent_error", method=request.method, path=request.path, error=exc.message)
        return ApiError(500, exc.message, code="agent_error", hint=exc.hint).response()
    except Exception:
        log.exception("api.unhandled_error", method=request.method, path=request.path)
        return ApiError(
            500,
            "the agent failed to answer this request",
            hint="the agent's log has the details (event api.unhandled_error)",
        ).response()
