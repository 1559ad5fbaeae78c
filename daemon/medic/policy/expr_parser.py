"""The recursive-descent parser of the condition language (see ``medic.policy.expr``).

One method per grammar rule, lowest precedence first; each takes ``after``, the
operator just read, so a missing operand is reported as "expected a value after 'and'".
Nesting is capped so neither parsing nor evaluation nears Python's recursion limit.
Grammar, lowest precedence first::

    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := additive [(== | != | < | <= | > | >= | in | not in) additive
                            | matches STRING]
    additive   := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "%") unary)*
    unary      := "-" unary | primary
    primary    := NUMBER | STRING | true | false | null | NAME | NAME "(" args ")"
                | NAME "(" NAME "[" DURATION "]" ")"
                | "(" or_expr ")" | "[" [or_expr ("," or_expr)* [","]] "]"

The window form (``p95(latency_ms[5m])``) is checked here: a known window function,
a plain field name, a duration with a unit between 1s and 31d.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from medic.durations import UNITS as DURATION_UNITS
from medic.errors import ExpressionError, PatternError
from medic.patterns import compile_pattern
from medic.policy.expr_functions import ARITY, FUNCTIONS
from medic.policy.expr_lexer import KEYWORDS, SIZE_UNITS, Token, string_offset, tokenize
from medic.policy.expr_nodes import (
    And,
    Arithmetic,
    Call,
    Compare,
    Field,
    ListOf,
    Literal,
    Matches,
    Member,
    Negate,
    Node,
    Not,
    Or,
    WindowRead,
    is_number,
)
from medic.policy.expr_windows import MAX_WINDOW, MIN_WINDOW, WINDOW_FUNCTIONS, Window

# Levels of (), [], calls, `not` and unary minus.
MAX_NESTING = 32
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_CONSTANTS = {"true": True, "false": False, "null": None}
_DURATION = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d|w)")
_WINDOW_NAMES = ", ".join(sorted(WINDOW_FUNCTIONS))
_WINDOW_HINT = f"window functions: {_WINDOW_NAMES}; like avg(latency_ms[5m])"


def parse(text: str) -> tuple[Node, frozenset[str], frozenset[Window]]:
    """The syntax tree of ``text``, the field names it reads and the windows it reads
    them over; raises ExpressionError."""
    parser = Parser(text)
    root = parser.or_expr(None)
    token = parser.peek()
    if token.kind != "end":
        hint = parser.trailing_hint()
        raise parser.unexpected(token, "an operator or end of expression", hint)
    return root, frozenset(parser.names), frozenset(parser.windows)


class Parser:
    """Recursive descent over one expression's tokens; collects the field names read."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.depth = 0
        self.names: set[str] = set()
        self.windows: set[Window] = set()

    # -- token helpers -------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos = min(self.pos + 1, len(self.tokens) - 1)
        return token

    def at(self, kind: str, text: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == kind and token.text == text

    def expect(self, text: str, what: str) -> Token:
        if not self.at("op", text):
            raise self.unexpected(self.peek(), what)
        return self.advance()

    def unexpected(self, token: Token, what: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(
            f"unexpected {token.describe()} at column {token.column}: expected {what}",
            column=token.column,
            hint=hint,
        )

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(
                f"expression nests too deeply at column {token.column}",
                column=token.column,
                hint=f"nest at most {MAX_NESTING} levels of (), [], not and -",
            )
        try:
            yield
        finally:
            self.depth -= 1

    # -- grammar rules, lowest precedence first ---------------------------------------

    def or_expr(self, after: str | None) -> Node:
        items = self.joined(after, "or", self.and_expr)
        return items[0] if len(items) == 1 else Or(items)

    def and_expr(self, after: str | None) -> Node:
        items = self.joined(after, "and", self.not_expr)
        return items[0] if len(items) == 1 else And(items)

    def joined(
        self, after: str | None, keyword: str, operand: Callable[[str | None], Node]
    ) -> tuple[Node, ...]:
        items = [operand(after)]
        while self.at("kw", keyword):
            self.advance()
            items.append(operand(keyword))
        return tuple(items)

    def not_expr(self, after: str | None) -> Node:
        if not self.at("kw", "not"):
            return self.comparison(after)
        token = self.advance()
        with self.nested(token):
            return Not(self.not_expr("not"))

    def comparison_op(self) -> str | None:
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISONS:
            return token.text
        if token.kind == "kw" and token.text in ("in", "matches"):
            return token.text
        if self.at("kw", "not") and self.at("kw", "in", ahead=1):
            return "not in"
        return None

    def comparison(self, after: str | None) -> Node:
        start = self.peek()
        left = self.additive(after)
        op = self.comparison_op()
        if op is None:
            return left
        op_token = self.advance()
        if op == "not in":
            self.advance()
        middle_start = self.peek()
        node = self.matches(left) if op == "matches" else self.compare(op, left)
        follow = self.comparison_op()
        if follow is not None:
            raise self.chained(op, follow, start, op_token, middle_start)
        return node

    def compare(self, op: str, left: Node) -> Node:
        right = self.additive(op)
        if op in ("in", "not in"):
            return Member(left, right, negated=op == "not in")
        return Compare(op, left, right)

    def matches(self, left: Node) -> Node:
        token = self.peek()
        if token.kind != "str":
            raise self.unexpected(token, "a string literal after 'matches'")
        self.advance()
        try:
            pattern = compile_pattern(token.value)
        except PatternError as err:
            # Point at the construct inside the string, not at its opening quote.
            at = token.column if err.position is None else string_offset(token, err.position - 1)
            column = at if err.position is None else at + 1
            raise ExpressionError(
                f"invalid regex at column {column}: {err.problem}", column=column, hint=err.hint
            ) from None
        return Matches(left, pattern)

    def chained(
        self, op: str, follow: str, start: Token, op_token: Token, middle: Token
    ) -> ExpressionError:
        """The error for ``1 < x < 3``, with the rewrite spelled out in the hint."""
        follow_token = self.peek()
        first = self.text[start.start : op_token.start].strip()
        second = self.text[middle.start : follow_token.start].strip()
        self.advance()
        if follow == "not in":
            self.advance()
        third_start = self.peek()
        if follow == "matches":
            third = third_start.text
        else:
            self.additive(follow)
            third = self.text[third_start.start : self.tokens[self.pos - 1].end].strip()
        return ExpressionError(
            f"comparisons cannot be chained at column {follow_token.column}",
            column=follow_token.column,
            hint=f"write {first} {op} {second} and {second} {follow} {third}",
        )

    def additive(self, after: str | None) -> Node:
        return self.arithmetic(after, ("+", "-"), self.term)

    def term(self, after: str | None) -> Node:
        return self.arithmetic(after, ("*", "/", "%"), self.unary)

    def arithmetic(
        self, after: str | None, ops: tuple[str, ...], operand: Callable[[str | None], Node]
    ) -> Node:
        first = operand(after)
        rest: list[tuple[str, Node]] = []
        while self.peek().kind == "op" and self.peek().text in ops:
            op = self.advance().text
            rest.append((op, operand(op)))
        return first if not rest else Arithmetic(first, tuple(rest))

    def unary(self, after: str | None) -> Node:
        if not self.at("op", "-"):
            return self.primary(after)
        token = self.advance()
        with self.nested(token):
            operand = self.unary("-")
        if isinstance(operand, Literal) and is_number(operand.value):
            return Literal(-operand.value)
        return Negate(operand)

    def primary(self, after: str | None) -> Node:
        token = self.peek()
        if token.kind in ("num", "str"):
            self.advance()
            return Literal(token.value)
        if token.kind == "kw" and token.text in _CONSTANTS:
            self.advance()
            return Literal(_CONSTANTS[token.text])
        if token.kind == "name":
            self.advance()
            if self.at("op", "("):
                return self.call(token)
            if self.at("op", "["):
                raise ExpressionError(
                    f"a window like {token.text}[5m] is read through a window function"
                    f" at column {token.column}",
                    column=token.column,
                    hint=_WINDOW_HINT,
                )
            self.names.add(token.value[0])
            return Field(token.value)
        if self.at("op", "("):
            self.advance()
            with self.nested(token):
                node = self.or_expr(None)
            self.expect(")", f"')' to close '(' at column {token.column}")
            return node
        if self.at("op", "["):
            self.advance()
            with self.nested(token):
                items = self.items("]")
            self.expect("]", f"',' or ']' to close '[' at column {token.column}")
            if all(isinstance(item, Literal) for item in items):
                return Literal(tuple(item.value for item in items if isinstance(item, Literal)))
            return ListOf(items)
        raise self.missing_value(token, after)

    def items(self, close: str) -> tuple[Node, ...]:
        """Comma-separated values up to ``close`` (not consumed); a trailing comma is fine."""
        items: list[Node] = []
        while not self.at("op", close):
            items.append(self.or_expr(None))
            if not self.at("op", ","):
                break
            self.advance()
        return tuple(items)

    def call(self, name: Token) -> Node:
        windowed = self.peek(1).kind == "name" and self.at("op", "[", ahead=2)
        if name.text in WINDOW_FUNCTIONS and (windowed or name.text not in FUNCTIONS):
            return self.window(name)
        if name.text not in FUNCTIONS:
            raise ExpressionError(
                f"unknown function '{name.text}' at column {name.column}; "
                f"valid: {', '.join(sorted(FUNCTIONS))}; over a window: {_WINDOW_NAMES}",
                column=name.column,
            )
        open_paren = self.advance()
        with self.nested(open_paren):
            args = self.items(")")
        self.expect(")", f"',' or ')' to close '{name.text}(' at column {open_paren.column}")
        low, high = ARITY[name.text]
        if len(args) < low or (high is not None and len(args) > high):
            wanted = f"at least {low}" if high is None else f"{low} or {high}"
            wanted = str(low) if low == high else wanted
            raise ExpressionError(
                f"wrong number of arguments for {name.text}() at column {name.column}: "
                f"expected {wanted}, got {len(args)}",
                column=name.column,
            )
        return Call(name.text, FUNCTIONS[name.text], args)

    def window(self, name: Token) -> Node:
        """``function(field[duration])``: the field is read over its recent samples."""
        self.advance()  # the "(" the caller saw
        field = self.peek()
        usage = f"write {name.text}(field[5m])"
        if field.kind != "name" or not self.at("op", "[", ahead=1):
            raise ExpressionError(
                f"{name.text}() reads a field over a window at column {field.column}:"
                f" expected a field and a window like latency_ms[5m]",
                column=field.column,
                hint=usage,
            )
        if len(field.value) > 1:
            raise ExpressionError(
                f"a window reads a field the probe yields at its top level, not"
                f" {field.text!r}, at column {field.column}",
                column=field.column,
            )
        self.advance()
        self.advance()  # "["
        length = self.peek()
        if length.kind != "num" or not _DURATION.fullmatch(length.text):
            raise ExpressionError(
                f"expected a duration with a unit at column {length.column}, like 5m or 1h,"
                f" found {length.describe()}",
                column=length.column,
                hint=usage,
            )
        if not MIN_WINDOW <= length.value <= MAX_WINDOW:
            raise ExpressionError(
                f"window {length.text} at column {length.column} is out of range:"
                f" a window is 1s to 31d",
                column=length.column,
                hint="samples are kept in memory: a window reaches back at most 31d",
            )
        self.advance()
        self.expect("]", f"']' to close the window at column {length.column}")
        self.expect(")", f"')' to close '{name.text}(' at column {name.column}")
        key = f"{name.text}({field.text}[{length.text}])"
        self.names.add(field.text)
        self.windows.add(Window(name.text, field.text, float(length.value), key))
        return WindowRead(key)

    # -- messages ----------------------------------------------------------------

    def missing_value(self, token: Token, after: str | None) -> ExpressionError:
        """No value where one must be; ``90%`` gets its own message."""
        before = self.tokens[self.pos - 2] if self.pos >= 2 else None
        if after == "%" and before is not None and before.kind == "num":
            percent = self.tokens[self.pos - 1]
            return ExpressionError(
                f"unexpected '%' after {before.text} at column {percent.column}",
                column=percent.column,
                hint=f"write {before.text}; percent fields are already 0-100",
            )
        return self.unexpected(token, "a value" if after is None else f"a value after '{after}'")

    def trailing_hint(self) -> str | None:
        """A hint for a word after a complete expression: ``AND`` or a detached unit."""
        token = self.peek()
        if token.kind != "name":
            return None
        if token.text.lower() in KEYWORDS:
            return f"keywords are lowercase: write {token.text.lower()}"
        before = self.tokens[self.pos - 1]
        if before.kind == "num" and (token.text in DURATION_UNITS or token.text in SIZE_UNITS):
            return f"write the unit right after the number: {before.text}{token.text}"
        return None
