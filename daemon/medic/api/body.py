"""JSON request bodies: read, checked against a schema, errors in the one envelope.

A body that is not JSON, not an object, or does not fit the route's schema is a 400
(code ``bad_body``) naming the key at fault, never a 500 and never silently ignored.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from medic.api.errors import ApiError


def bad_body(message: str, hint: str) -> ApiError:
    return ApiError(400, message, code="bad_body", hint=hint)


async def json_body(
    request: web.Request, validator: Draft202012Validator, hint: str
) -> dict[str, Any]:
    """The request's JSON object (``{}`` without a body), checked by ``validator``."""
    if not request.body_exists:
        data: Any = {}
    else:
        try:
            data = await request.json()
        except ValueError as exc:
            raise bad_body("the request body is not JSON", hint) from exc
    if not isinstance(data, dict):
        raise bad_body("the request body must be a JSON object", hint)
    error = best_match(validator.iter_errors(data))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "body"
        if error.validator == "additionalProperties":
            allowed = ", ".join(sorted(error.schema.get("properties", {})))
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            message = f"{where}: unknown key {unknown[0]!r}; valid keys: {allowed}"
        else:
            message = f"{where}: {error.message}"
        raise bad_body(message, hint)
    return data
