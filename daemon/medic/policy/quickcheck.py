"""A schema compiled to plain Python tests that answer one question fast: is it valid?

jsonschema walks a schema keyword by keyword for every value, building a validator
object per step: for a pack that is almost all valid, that walk was most of
``medic validate``. Here a schema is compiled once into nested closures that only say
yes or no; :class:`SchemaCheck` asks them first and runs jsonschema (imported then)
only when they say no, so every message still comes from jsonschema, unchanged.

The closures follow Draft 2020-12 as jsonschema implements it (``True`` and ``1`` are
different, ``format`` is an annotation, a keyword ignores values of other types) plus
the ``durationRange`` keyword of :mod:`medic.durations`. They may say no to a valid
value (jsonschema then finds nothing and the answer is the same), never yes to an
invalid one: a test that may wrongly say no (``uniqueItems`` over non-strings) is
*inexact*, and ``if``, ``not`` and ``oneOf`` accept only exact tests beneath them. A
schema using any keyword not handled here gets no quick test at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from medic.policy.quickcheck_leaves import LEAVES, Compiled, Test
from medic.schema_bounds import validator_class

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

# Keywords that never make a value invalid (``format``: no format checker is used).
ANNOTATIONS = frozenset(
    {"$schema", "$comment", "title", "description", "default", "examples", "deprecated"}
    | {"readOnly", "writeOnly", "format"}
)


def compile_schema(schema: Any) -> Compiled:
    """``schema`` as a test and whether the test is exact; None when it cannot be."""
    if schema is True:
        return (lambda _: True), True
    if schema is False:
        return (lambda _: False), True
    if not isinstance(schema, dict):
        return None
    parts: list[Compiled] = []
    for keyword, value in schema.items():
        if keyword in _KEYWORDS:
            parts.append(_KEYWORDS[keyword](value))
        elif keyword not in ANNOTATIONS and keyword not in _SHAPED and not _extension(keyword):
            return None
    if "properties" in schema or "additionalProperties" in schema:
        parts.append(_object(schema))
    if "if" in schema:
        parts.append(_conditional(schema))
    tests: list[Test] = []
    exact = True
    for part in parts:
        if part is None:
            return None
        tests.append(part[0])
        exact = exact and part[1]
    return _all(tests), exact


def _extension(keyword: str) -> bool:
    """``x-...``: an extension keyword (``x-medic-new-spelling``), which jsonschema ignores."""
    return keyword.startswith("x-")


# Keywords read together with others (below), not one by one.
_SHAPED = frozenset({"properties", "additionalProperties", "if", "then", "else"})


def _all(tests: list[Test]) -> Test:
    if not tests:
        return lambda _: True
    if len(tests) == 1:
        return tests[0]
    chain = tuple(tests)

    def every(value: Any) -> bool:
        for test in chain:  # noqa: SIM110  a loop: all() would build a generator per value
            if not test(value):
                return False
        return True

    return every


def _object(schema: dict[str, Any]) -> Compiled:
    """``properties`` with ``additionalProperties``."""
    subs: dict[str, Test] = {}
    exact = True
    for name, sub in schema.get("properties", {}).items():
        compiled = compile_schema(sub)
        if compiled is None:
            return None
        subs[name], exact = compiled[0], exact and compiled[1]
    extra = compile_schema(schema.get("additionalProperties", True))
    if extra is None:
        return None
    rest, exact = extra[0], exact and extra[1]

    def test(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for key, item in value.items():
            sub = subs.get(key)
            if not (sub(item) if sub is not None else rest(item)):
                return False
        return True

    return test, exact


def _conditional(schema: dict[str, Any]) -> Compiled:
    """``if``/``then``/``else``: the ``if`` test must be exact."""
    condition = compile_schema(schema["if"])
    then = compile_schema(schema.get("then", True))
    otherwise = compile_schema(schema.get("else", True))
    if condition is None or not condition[1] or then is None or otherwise is None:
        return None
    when, yes, no = condition[0], then[0], otherwise[0]
    return (lambda value: yes(value) if when(value) else no(value)), then[1] and otherwise[1]


def _items(value: Any) -> Compiled:
    compiled = compile_schema(value)
    if compiled is None:
        return None
    each = compiled[0]

    def test(value: Any) -> bool:
        if isinstance(value, list):
            for item in value:
                if not each(item):
                    return False
        return True

    return test, compiled[1]


def _property_names(value: Any) -> Compiled:
    compiled = compile_schema(value)
    if compiled is None:
        return None
    each = compiled[0]
    return (lambda v: not isinstance(v, dict) or all(each(key) for key in v)), compiled[1]


def _branches(value: Any, *, exact_only: bool) -> list[tuple[Test, bool]] | None:
    if not isinstance(value, list) or not value:
        return None
    out = [compile_schema(sub) for sub in value]
    if any(c is None or (exact_only and not c[1]) for c in out):
        return None
    return [c for c in out if c is not None]


def _any_of(value: Any) -> Compiled:
    branches = _branches(value, exact_only=False)
    if branches is None:
        return None
    tests = [test for test, _ in branches]
    return (lambda v: any(test(v) for test in tests)), all(exact for _, exact in branches)


def _all_of(value: Any) -> Compiled:
    branches = _branches(value, exact_only=False)
    if branches is None:
        return None
    return _all([test for test, _ in branches]), all(exact for _, exact in branches)


def _one_of(value: Any) -> Compiled:
    branches = _branches(value, exact_only=True)
    if branches is None:
        return None
    tests = [test for test, _ in branches]
    return (lambda v: sum(1 for test in tests if test(v)) == 1), True


def _not(value: Any) -> Compiled:
    compiled = compile_schema(value)
    if compiled is None or not compiled[1]:
        return None
    test = compiled[0]
    return (lambda v: not test(v)), True


_KEYWORDS: dict[str, Callable[[Any], Compiled]] = {
    **LEAVES,
    "items": _items,
    "propertyNames": _property_names,
    "anyOf": _any_of,
    "allOf": _all_of,
    "oneOf": _one_of,
    "not": _not,
}


class SchemaCheck:
    """One schema: the quick test first, jsonschema's validator (built on demand) for errors."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        compiled = compile_schema(schema)
        self.quick: Test | None = compiled[0] if compiled is not None else None
        self._validator: Draft202012Validator | None = None

    @property
    def validator(self) -> Draft202012Validator:
        """jsonschema's validator of the schema (with ``durationRange``)."""
        if self._validator is None:
            self._validator = validator_class()(self.schema)
        return self._validator

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """jsonschema's errors for ``instance``; none at all when the quick test passes it."""
        if self.quick is not None and self.quick(instance):
            return iter(())
        return self.validator.iter_errors(instance)
