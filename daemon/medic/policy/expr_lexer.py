"""Tokens of the condition language (``memory_percent > 90``), with their columns.

The lexer turns condition text into a flat list of tokens for the parser in
``medic.policy.expr``. It folds unit suffixes into numbers (``26h`` is 93600 seconds,
``512MiB`` is bytes) and catches, with a hint, what people coming from other languages
type: ``&&``, ``||``, ``!``, a single ``=``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from medic.durations import UNITS as DURATION_UNITS
from medic.errors import ExpressionError

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null", "matches"})

SIZE_UNITS: dict[str, int] = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}

UNIT_HINT = (
    "valid units: ms, s, m, h, d, w (seconds); B, KB, MB, GB, TB, KiB, MiB, GiB, TiB (bytes); "
    "combine parts with +, like 1h + 30m"
)
LOGIC_HINT = "use and / or / not"

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TWO_CHAR_OPS = frozenset({"==", "!=", "<=", ">="})
_ONE_CHAR_OPS = frozenset("()[],+-*/%<>")
# Operators from other languages, with the hint that says what to write instead.
_FOREIGN_OPS = {
    "&&": LOGIC_HINT,
    "||": LOGIC_HINT,
    "!": LOGIC_HINT,
    "&": LOGIC_HINT,
    "|": LOGIC_HINT,
    "=": "write == to compare",
}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``kind`` is num, str, name, kw, op or end; ``start``/``end`` are offsets."""

    kind: str
    text: str
    value: Any
    start: int
    end: int

    @property
    def column(self) -> int:
        """1-based column of the token's first character."""
        return self.start + 1

    def describe(self) -> str:
        """How an error message names this token."""
        if self.kind == "end":
            return "end of expression"
        if self.kind == "str":
            return f"string {self.text}"
        return f"'{self.text}'"


def tokenize(text: str) -> list[Token]:
    """Tokens of ``text``, always ending with an ``end`` token; raises ExpressionError."""
    tokens: list[Token] = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char.isdigit() and char.isascii():
            token = _number(text, pos)
            tokens.append(token)
            pos = token.end
        elif (char.isalpha() and char.isascii()) or char == "_":
            token = _word(text, pos)
            tokens.append(token)
            pos = token.end
        elif char in "'\"":
            token = _string(text, pos)
            tokens.append(token)
            pos = token.end
        else:
            token = _operator(text, pos)
            tokens.append(token)
            pos = token.end
    end = len(text.rstrip())
    tokens.append(Token("end", "", None, end, end))
    return tokens


def _number(text: str, pos: int) -> Token:
    """A number with an optional unit suffix written directly after its digits."""
    match = _NUMBER.match(text, pos)
    assert match is not None  # the caller saw a digit at pos
    digits = match.group()
    value: int | float = float(digits) if "." in digits else int(digits)
    suffix = _WORD.match(text, match.end())
    if suffix is None:
        return Token("num", digits, value, pos, match.end())
    unit = suffix.group()
    if unit in DURATION_UNITS:
        scale = DURATION_UNITS[unit]
        value = value * int(scale) if scale >= 1 else value / round(1 / scale)
    elif unit in SIZE_UNITS:
        value = value * SIZE_UNITS[unit]
    else:
        raise ExpressionError(
            f"unknown unit '{unit}' in '{digits}{unit}' at column {pos + 1}",
            column=pos + 1,
            hint=UNIT_HINT,
        )
    return Token("num", digits + unit, value, pos, suffix.end())


def _word(text: str, pos: int) -> Token:
    """A keyword, or a field name with optional ``.segment`` parts (``labels.app``)."""
    match = _WORD.match(text, pos)
    assert match is not None  # the caller saw a letter at pos
    word = match.group()
    if word in KEYWORDS:
        return Token("kw", word, word, pos, match.end())
    if word.lower() in {"true", "false", "null", "none"}:
        raise ExpressionError(
            f"unknown name '{word}' at column {pos + 1}",
            column=pos + 1,
            hint="write true/false/null in lowercase",
        )
    path = [word]
    end = match.end()
    while end < len(text) and text[end] == ".":
        segment = _WORD.match(text, end + 1)
        if segment is None:
            found = f"'{text[end + 1]}'" if end + 1 < len(text) else "end of expression"
            raise ExpressionError(
                f"unexpected {found} at column {end + 2}: expected a field name after '.'",
                column=end + 2,
            )
        path.append(segment.group())
        end = segment.end()
    return Token("name", text[pos:end], tuple(path), pos, end)


def _string(text: str, pos: int) -> Token:
    """A quoted string; a backslash escapes only the quote and itself, so regexes stay readable."""
    quote = text[pos]
    chars: list[str] = []
    index = pos + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            return Token("str", text[pos : index + 1], "".join(chars), pos, index + 1)
        if char == "\\" and index + 1 < len(text) and text[index + 1] in (quote, "\\"):
            chars.append(text[index + 1])
            index += 2
            continue
        chars.append(char)
        index += 1
    raise ExpressionError(
        f"unterminated string starting at column {pos + 1}",
        column=pos + 1,
        hint=f"close it with {quote}",
    )


def string_offset(token: Token, index: int) -> int:
    """Where character ``index`` of a string token's value is in the expression text."""
    raw, quote = token.text, token.text[:1]
    pos = 1
    for _ in range(index):
        escaped = raw[pos] == "\\" and raw[pos + 1 : pos + 2] in (quote, "\\")
        pos += 2 if escaped else 1
    return token.start + pos


def _operator(text: str, pos: int) -> Token:
    """An operator or bracket; anything else is an error naming the character."""
    pair = text[pos : pos + 2]
    if pair in _TWO_CHAR_OPS:
        return Token("op", pair, pair, pos, pos + 2)
    for foreign, hint in _FOREIGN_OPS.items():
        if text.startswith(foreign, pos):
            raise ExpressionError(
                f"unexpected '{foreign}' at column {pos + 1}", column=pos + 1, hint=hint
            )
    char = text[pos]
    if char in _ONE_CHAR_OPS:
        return Token("op", char, char, pos, pos + 1)
    raise ExpressionError(f"unexpected character '{char}' at column {pos + 1}", column=pos + 1)
