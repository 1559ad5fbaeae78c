"""The only functions a condition may call: abs, len, lower, max, min, round.

Each returns null instead of raising when its arguments do not fit (a missing field,
a string where a number belongs), so a condition never crashes the agent. The parser
checks names and argument counts when the policy loads, using ``ARITY``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from medic.policy.expr_nodes import is_number

# round(x, n) with a huge n would compute 10**n; no real condition needs more digits.
_MAX_ROUND_DIGITS = 100


def _abs(value: Any) -> Any:
    """Absolute value of a number."""
    return abs(value) if is_number(value) else None


def _len(value: Any) -> Any:
    """Length of a string, list or mapping."""
    if isinstance(value, str | list | tuple | set | frozenset | Mapping):
        return len(value)
    return None


def _lower(value: Any) -> Any:
    """A string in lowercase, for case-blind comparisons."""
    return value.lower() if isinstance(value, str) else None


def _extreme(pick: Callable[[list[Any]], Any], values: tuple[Any, ...]) -> Any:
    """min/max over the arguments, or over the one list given; null on mixed or null items."""
    items = list(values[0]) if len(values) == 1 and isinstance(values[0], list | tuple) else values
    if not items:
        return None
    if all(is_number(item) for item in items) or all(isinstance(item, str) for item in items):
        return pick(list(items))
    return None


def _min(*values: Any) -> Any:
    """The smallest of the numbers (or strings) given."""
    return _extreme(min, values)


def _max(*values: Any) -> Any:
    """The largest of the numbers (or strings) given."""
    return _extreme(max, values)


def _round(value: Any, digits: Any = None) -> Any:
    """Round to an integer, or to ``digits`` decimal places."""
    if not is_number(value):
        return None
    try:
        if digits is None:
            return round(value)
        if is_number(digits) and isinstance(digits, int) and abs(digits) <= _MAX_ROUND_DIGITS:
            return round(value, digits)
    except (ValueError, OverflowError):  # round(nan) and round(inf) have no integer value
        return None
    return None


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": _abs,
    "len": _len,
    "lower": _lower,
    "max": _max,
    "min": _min,
    "round": _round,
}

# Fewest and most arguments each function takes; None means no upper bound.
ARITY: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "len": (1, 1),
    "lower": (1, 1),
    "max": (1, None),
    "min": (1, None),
    "round": (1, 2),
}
