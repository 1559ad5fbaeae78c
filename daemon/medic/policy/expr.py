"""Safe conditions for ``when:`` and ``clear_when:`` (``memory_percent > 90``).

A small language of its own, never Python ``eval``: field names, literals with unit
suffixes, comparisons, ``in``, ``matches``, arithmetic, six whitelisted functions and
window functions over a field's recent samples (``expr_windows``).
``compile_expression`` parses text once (cached by text) into a tree of frozen nodes;
``Expression.evaluate`` walks that tree for each measurement and never raises on data.
Every syntax error is an ``ExpressionError`` with the 1-based column of the token at
fault. The pieces: ``expr_lexer`` (tokens), ``expr_parser`` (grammar), ``expr_nodes``
(the tree and its meaning), ``expr_functions`` (the whitelist). ``docs/conditions.md``
is the user's reference.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medic.errors import ExpressionError
from medic.policy.expr_nodes import Node
from medic.policy.expr_parser import parse
from medic.policy.expr_windows import Window


@dataclass(frozen=True)
class Expression:
    """A compiled condition: its text, the field names it reads, and its syntax tree."""

    text: str
    names: frozenset[str]
    root: Node = field(compare=False, repr=False, kw_only=True)
    # The windows it reads (``p95(latency_ms[5m])``): the engine keeps their samples.
    windows: frozenset[Window] = field(default=frozenset(), compare=False, kw_only=True)

    def evaluate(self, fields: Mapping[str, Any]) -> Any:
        """The condition's value for one measurement; callers take its truth with bool()."""
        try:
            return self.root.evaluate(fields)
        except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError):
            # Nodes already turn bad data into null; this catches exotic probe values.
            return None


def compile_expression(text: str) -> Expression:
    """Parse ``text`` into an Expression; raises ExpressionError with a column and hint."""
    if not isinstance(text, str):
        raise ExpressionError(
            f"expected a condition as text, got {type(text).__name__}",
            column=1,
            hint='quote it, like when: "true"',
        )
    return _compile(text)


@functools.lru_cache(maxsize=4096)
def _compile(text: str) -> Expression:
    """Compile once per distinct text: 1,000 policies often share a few conditions."""
    if not text.strip():
        raise ExpressionError(
            "expression is empty", column=1, hint="write a condition, like memory_percent > 90"
        )
    root, names, windows = parse(text)
    return Expression(text, names, root=root, windows=windows)
