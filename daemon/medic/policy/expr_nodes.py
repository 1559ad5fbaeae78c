"""The condition language's syntax tree, and what each node means when evaluated.

Nodes are frozen dataclasses built once by the parser; evaluating a condition walks
them against one probe measurement. Evaluation never raises on data: a missing field
is null, and anything that cannot be computed (null in arithmetic, ``"a" < 1``,
division by zero) becomes null or false instead of an exception. Chains of ``and``,
``or``, ``+``/``-`` and ``*``/``/``/``%`` are n-ary nodes evaluated in a loop, so the
tree's depth only grows with explicit nesting.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from medic.patterns import Pattern

_LISTS = (list, tuple, set, frozenset)
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def is_number(value: object) -> bool:
    """True for ints and floats; booleans are not numbers here."""
    kind = type(value)
    if kind is float or kind is int:  # the exact types first: every comparison asks
        return True
    return isinstance(value, int | float) and not isinstance(value, bool)


def equal(left: object, right: object) -> bool:
    """``==`` without Python's surprises: ``true != 1``, ``1 != "1"``, null equals only null."""
    if left is None or right is None:
        return left is right
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) or is_number(right):
        return is_number(left) and is_number(right) and left == right
    if isinstance(left, _LISTS) and isinstance(right, _LISTS):
        return len(left) == len(right) and all(map(equal, left, right))
    try:
        return bool(left == right)
    except Exception:  # an exotic probe value with a raising __eq__ is simply unequal
        return False


def truth(value: object) -> bool | None:
    """Null stays null; everything else is Python truthiness."""
    return None if value is None else bool(value)


class Node:
    """Base of every syntax tree node."""

    __slots__ = ()

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        """The node's value for one measurement."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A number, string, true, false or null written in the condition."""

    value: Any

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True, slots=True)
class Field(Node):
    """A field name; dotted names read nested mappings only, never attributes."""

    path: tuple[str, ...]

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        value: Any = fields
        for key in self.path:
            # A probe's fields are a plain dict: skip the Mapping check's ABC machinery.
            if type(value) is not dict and not isinstance(value, Mapping):
                return None
            value = value.get(key)
        return value


@dataclass(frozen=True, slots=True)
class ListOf(Node):
    """A list literal, ``["critical", "unknown"]``."""

    items: tuple[Node, ...]

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        return [item.evaluate(fields) for item in self.items]


@dataclass(frozen=True, slots=True)
class Not(Node):
    """``not x``; null stays null, so a negated test of a missing field does not fire."""

    operand: Node

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        value = self.operand.evaluate(fields)
        return None if value is None else not value


@dataclass(frozen=True, slots=True)
class Negate(Node):
    """Unary minus; null for anything but a number."""

    operand: Node

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        value = self.operand.evaluate(fields)
        return -value if is_number(value) else None


@dataclass(frozen=True, slots=True)
class And(Node):
    """``a and b and ...``: false on the first false operand; null if one was null."""

    items: tuple[Node, ...]

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        return _junction(self.items, fields, decisive=False)


@dataclass(frozen=True, slots=True)
class Or(Node):
    """``a or b or ...``: true on the first true operand; null if one was null."""

    items: tuple[Node, ...]

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        return _junction(self.items, fields, decisive=True)


def _junction(items: tuple[Node, ...], fields: Mapping[str, Any], *, decisive: bool) -> bool | None:
    """``and`` (``decisive`` False) or ``or`` (True) over three values: the first operand
    that is ``decisive`` decides; otherwise null if one was null, else not ``decisive``."""
    result: bool | None = not decisive
    for item in items:
        value = truth(item.evaluate(fields))
        if value is decisive:
            return decisive
        if value is None:
            result = None
    return result


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """One of ``== != < <= > >=``; ordering needs two numbers or two strings."""

    op: str
    left: Node
    right: Node

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        left = self.left.evaluate(fields)
        right = self.right.evaluate(fields)
        if self.op == "==":
            return equal(left, right)
        if self.op == "!=":
            return not equal(left, right)
        if left is None or right is None:
            return None
        if (is_number(left) and is_number(right)) or (
            isinstance(left, str) and isinstance(right, str)
        ):
            return _ORDER[self.op](left, right)
        return False


@dataclass(frozen=True, slots=True)
class Member(Node):
    """``x in y`` / ``x not in y``: list item, substring or mapping key; null otherwise."""

    item: Node
    container: Node
    negated: bool

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        item = self.item.evaluate(fields)
        container = self.container.evaluate(fields)
        if isinstance(container, str | Mapping):
            found = isinstance(item, str) and item in container
        elif isinstance(container, _LISTS):
            found = any(equal(item, candidate) for candidate in container)
        else:
            return None
        return found != self.negated


@dataclass(frozen=True, slots=True)
class Matches(Node):
    """``text matches "regex"``: an RE2 search of the text's first ``MAX_SUBJECT`` characters.

    The pattern is compiled once when the policy loads (:mod:`medic.patterns`), so one
    test costs at most the bounded text times the bounded pattern, whatever the text.
    """

    subject: Node
    pattern: Pattern

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        value = self.subject.evaluate(fields)
        if not isinstance(value, str):
            return None
        return self.pattern.search(value)


@dataclass(frozen=True, slots=True)
class Arithmetic(Node):
    """``a + b - c`` or ``a * b / c % d``, left to right; null when any step cannot be done."""

    first: Node
    rest: tuple[tuple[str, Node], ...]

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        value = self.first.evaluate(fields)
        for op, node in self.rest:
            value = arithmetic(op, value, node.evaluate(fields))
            if value is None:
                return None
        return value


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """One arithmetic step; strings may only be joined with ``+``."""
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if not (is_number(left) and is_number(right)):
        return None
    try:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if right == 0:
            return None
        return left / right if op == "/" else left % right
    except ArithmeticError:  # float overflow: no value rather than a crash
        return None


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A call to one of the whitelisted functions in ``medic.policy.expr_functions``."""

    name: str
    function: Callable[..., Any]
    args: tuple[Node, ...]

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        return self.function(*(arg.evaluate(fields) for arg in self.args))


@dataclass(frozen=True, slots=True)
class WindowRead(Node):
    """``p95(latency_ms[5m])``: the value the engine computed over the field's recent
    samples (:mod:`medic.engine.samples`), handed in under ``key``; null until the
    window is full, or when nothing computed it."""

    key: str

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        value = fields.get(self.key)
        return value if is_number(value) else None
