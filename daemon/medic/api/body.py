"""JSON request bodies: read, bounded, checked against a schema, errors in the envelope.

A body that is not JSON (not UTF-8, ``NaN``, ``Infinity``, ``1e999``), nested deeper
than :data:`MAX_DEPTH`, holds a string longer than the route allows or a lone
surrogate (``\\ud800`` in JSON text, which SQLite cannot store), is not an object, or
does not fit the route's schema is a 400 (code ``bad_body``) naming the key at fault,
never a 500 and never silently ignored.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from aiohttp import web

from medic.api.errors import ApiError
from medic.bounds import MAX_TEXT
from medic.policy.quickcheck import SchemaCheck

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

MAX_DEPTH = 16


class BadJson(ValueError):
    """A body that is not acceptable JSON; the message names the key at fault."""


def _no_constant(name: str) -> Any:
    raise BadJson(f"the body is not JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BadJson(f"the body holds the number {text[:20]}, too large for a float")
    return number


def _check_string(value: str, where: str, max_string: int) -> None:
    if len(value) > max_string:
        raise BadJson(f"{where}: a string of {len(value)} characters (at most {max_string})")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate written as \ud800
        raise BadJson(f"{where}: a string that is not valid Unicode") from None


def _check_shape(data: Any, max_string: int) -> None:
    """Nesting and string lengths within bounds, walked without recursion."""
    stack: list[tuple[Any, str, int]] = [(data, "body", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BadJson(f"{where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            _check_string(value, where, max_string)
        elif isinstance(value, dict):
            for key, item in value.items():
                _check_string(key, f"{where} (a key)", max_string)
                stack.append((item, f"{where}.{key}" if where != "body" else key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))


def parse_json(raw: bytes, *, max_string: int = MAX_TEXT) -> Any:
    """The JSON document in ``raw``, or BadJson saying why it is refused."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except UnicodeDecodeError:
        raise BadJson("the body is not JSON: it is not UTF-8 text") from None
    except RecursionError:
        raise BadJson(f"body: nested deeper than {MAX_DEPTH} levels") from None
    except BadJson:
        raise
    except ValueError as exc:  # JSONDecodeError, or an integer of thousands of digits
        raise BadJson(f"the body is not JSON: {exc}") from None
    _check_shape(data, max_string)
    return data


def _worst(check: SchemaCheck, data: Any) -> ValidationError | None:
    """jsonschema's most telling error for ``data``; jsonschema is imported only when the
    quick test refuses it."""
    errors = list(check.iter_errors(data))
    if not errors:
        return None
    from jsonschema.exceptions import best_match

    worst: ValidationError | None = best_match(errors)
    return worst


def bad_body(message: str, hint: str) -> ApiError:
    return ApiError(400, message, code="bad_body", hint=hint)


async def json_body(request: web.Request, check: SchemaCheck, hint: str) -> dict[str, Any]:
    """The request's JSON object (``{}`` without a body), checked by ``check`` (jsonschema
    is imported only to word an error)."""
    data: Any = {}
    if request.body_exists:
        try:
            data = parse_json(await request.read())
        except BadJson as exc:
            raise bad_body(str(exc), hint) from None
    if not isinstance(data, dict):
        raise bad_body("the request body must be a JSON object", hint)
    error = _worst(check, data)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "body"
        if error.validator == "additionalProperties":
            schema = error.schema if isinstance(error.schema, dict) else {}
            properties = schema.get("properties", {})
            allowed = ", ".join(sorted(properties))
            instance = error.instance if isinstance(error.instance, dict) else {}
            unknown = sorted(set(instance) - set(properties))
            known = f"valid keys: {allowed}" if allowed else "it takes no keys"
            message = f"{where}: unknown key {unknown[0]!r}; {known}"
        else:
            message = f"{where}: {error.message}"
        raise bad_body(message, hint)
    return data
