"""The quick tests of single keywords (:mod:`medic.policy.quickcheck`): one value, no subschema.

Each compiler takes the keyword's value from the schema and returns ``(test, exact)``,
or None when the value is not one it can follow exactly as jsonschema does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from typing import Any

from medic.durations import KEYWORD as DURATION_RANGE
from medic.durations import DurationError, Span, parse_duration

Test = Callable[[Any], bool]
# (test, exact); None: the keyword's value is not one handled here.
Compiled = tuple[Test, bool] | None

_TYPES: dict[str, Test] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda v, b: v >= b,
    "maximum": lambda v, b: v <= b,
    "exclusiveMinimum": lambda v, b: v > b,
    "exclusiveMaximum": lambda v, b: v < b,
}
_SIZES: dict[str, tuple[type[Sized], bool]] = {  # keyword -> (the type it counts, is a minimum)
    "minLength": (str, True),
    "maxLength": (str, False),
    "minItems": (list, True),
    "maxItems": (list, False),
    "minProperties": (dict, True),
    "maxProperties": (dict, False),
}
_SCALARS = (str, int, float, bool, type(None))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(one: Any, two: Any) -> bool:
    """jsonschema's equality for scalars: ``True`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    return bool(one == two)


def _type(value: Any) -> Compiled:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or any(name not in _TYPES for name in names):
        return None
    if len(names) == 1:
        return _TYPES[names[0]], True
    tests = tuple(_TYPES[name] for name in names)

    def one_of_types(value: Any) -> bool:
        for test in tests:  # noqa: SIM110  a loop: any() would build a generator per value
            if test(value):
                return True
        return False

    return one_of_types, True


def _bound(keyword: str) -> Callable[[Any], Compiled]:
    compare = _BOUNDS[keyword]

    def make(bound: Any) -> Compiled:
        if not _number(bound):
            return None
        return (lambda v: not _number(v) or compare(v, bound)), True

    return make


def _size(keyword: str) -> Callable[[Any], Compiled]:
    kind, minimum = _SIZES[keyword]

    def make(limit: Any) -> Compiled:
        if not isinstance(limit, int) or isinstance(limit, bool):
            return None
        if minimum:
            return (lambda v: not isinstance(v, kind) or len(v) >= limit), True
        return (lambda v: not isinstance(v, kind) or len(v) <= limit), True

    return make


def _pattern(value: Any) -> Compiled:
    if not isinstance(value, str):
        return None
    search = re.compile(value).search
    return (lambda v: not isinstance(v, str) or search(v) is not None), True


def _required(value: Any) -> Compiled:
    if not isinstance(value, list):
        return None
    names = tuple(value)
    return (lambda v: not isinstance(v, dict) or all(name in v for name in names)), True


def _dependent_required(value: Any) -> Compiled:
    """``dependentRequired``: when the object has the key, it has the keys listed too."""
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        return None
    needs = {key: tuple(names) for key, names in value.items()}

    def test(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for key, names in needs.items():
            if key in v and not all(name in v for name in names):
                return False
        return True

    return test, True


def _enum(values: Any) -> Compiled:
    if not isinstance(values, list) or not all(isinstance(e, _SCALARS) for e in values):
        return None
    if all(isinstance(e, str) for e in values):  # a string equals only the same string
        words = frozenset(values)
        return (lambda v: isinstance(v, str) and v in words), True
    choices = tuple(values)
    return (lambda v: isinstance(v, _SCALARS) and any(_same(v, e) for e in choices)), True


def _const(value: Any) -> Compiled:
    return _enum([value])


def _unique(value: Any) -> Compiled:
    if value is False:
        return (lambda _: True), True
    if value is not True:
        return None

    def test(v: Any) -> bool:
        if not isinstance(v, list):
            return True
        # Strings compare plainly; anything else is left to jsonschema (inexact).
        return all(isinstance(item, str) for item in v) and len(set(v)) == len(v)

    return test, False


def _duration_range(value: Any) -> Compiled:
    try:
        span = Span.of(value)
    except (KeyError, TypeError):
        return None

    def test(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            return True
        try:
            seconds = parse_duration(v)
        except DurationError:
            return True  # the form is ``pattern``'s to check
        return span.fits(seconds)

    return test, True


LEAVES: dict[str, Callable[[Any], Compiled]] = {
    "type": _type,
    **{keyword: _bound(keyword) for keyword in _BOUNDS},
    **{keyword: _size(keyword) for keyword in _SIZES},
    "pattern": _pattern,
    "required": _required,
    "dependentRequired": _dependent_required,
    "enum": _enum,
    "const": _const,
    "uniqueItems": _unique,
    DURATION_RANGE: _duration_range,
}
