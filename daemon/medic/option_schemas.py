"""JSON-Schema fragments for the options of probes, actions and notifiers.

Every plugin's ``schema`` is built with :func:`options_schema`, which closes the
object (``additionalProperties: false``) so a misspelt option is refused when the
file is validated. The fragments say the common kinds of option one way everywhere:
:func:`duration` (bounded by a :class:`~medic.durations.Span`), :func:`secret` (a
``{env:}``/``{file:}`` reference), :func:`argv`, :func:`url`, and bounded
:func:`number`/:func:`integer`. Plugin authors reach all of them through
:mod:`medic.plugin`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from medic import secrets
from medic.durations import ANY, KEYWORD, PATTERN, Span
from medic.schema_bounds import MAX_NUMBER


def options_schema(
    properties: dict[str, Any], required: Iterable[str] = (), **extra: Any
) -> dict[str, Any]:
    """A closed object: ``properties``, the ``required`` keys, and ``extra`` keywords
    (``description``, ``anyOf``, ``minProperties``...) as given."""
    out: dict[str, Any] = {"type": "object", "properties": properties}
    needed = list(required)
    if needed:
        out["required"] = needed
    out["additionalProperties"] = False
    out.update(extra)
    return out


def duration(
    description: str, default: str | None = None, span: Span | None = ANY
) -> dict[str, Any]:
    """A duration: ``30s``, ``5m``, ``1h30m`` or a number of seconds, within ``span``.

    With the default span an option is not negative and at most a week; ``span=None``
    leaves the range to the caller (the notifiers' options in the agent config) and
    keeps ``description`` as written.
    """
    if span is None:
        return {"type": ["string", "number"], "pattern": PATTERN, "description": description}
    out: dict[str, Any] = {
        "type": ["string", "number"],
        "pattern": PATTERN,
        **span.number_bounds(),
        KEYWORD: span.keyword(),
        "description": f"{description} A duration like 500ms, 30s, 5m, 1h30m, or seconds; "
        f"{span.describe()}.",
    }
    if default is not None:
        out["default"] = default
    return out


def secret(description: str) -> dict[str, Any]:
    """A secret reference, ``{env: NAME}`` or ``{file: /path}``; never the value itself
    (:func:`medic.secrets.schema`: the one way every built-in writes a secret option)."""
    return secrets.schema(description)


def argv(description: str) -> dict[str, Any]:
    """A program and its arguments as a list of strings (no shell), at least one item."""
    return {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": description}


def url(description: str, pattern: str | None = None) -> dict[str, Any]:
    """A URL as text, not empty; ``pattern`` narrows its scheme (``^https?://``)."""
    out: dict[str, Any] = {"type": "string", "minLength": 1}
    if pattern is not None:
        out["pattern"] = pattern
    out["description"] = description
    return out


def number(
    description: str, minimum: float = -MAX_NUMBER, maximum: float = MAX_NUMBER, **extra: Any
) -> dict[str, Any]:
    """A number from ``minimum`` to ``maximum`` (both included)."""
    return {
        "type": "number",
        "minimum": minimum,
        "maximum": maximum,
        "description": description,
        **extra,
    }


def integer(
    description: str, minimum: int = -MAX_NUMBER, maximum: int = MAX_NUMBER, **extra: Any
) -> dict[str, Any]:
    """A whole number from ``minimum`` to ``maximum`` (both included)."""
    return {
        "type": "integer",
        "minimum": minimum,
        "maximum": maximum,
        "description": description,
        **extra,
    }
