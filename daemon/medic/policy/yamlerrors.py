"""YAML that does not parse, told as a :class:`~medic.errors.PolicyError` with both places.

A parser gives up where it finds the problem, which is often far from where it began:
an unclosed ``[`` is noticed lines later, an unclosed quote at the end of the file.
Messages name where parsing gave up (the error's location) and, when there is one,
where the bracket, quote or block that was still open began. A character YAML does
not allow (control characters, a lone surrogate, a stray byte-order mark) is reported
at its own line and column.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from medic.errors import Location, PolicyError

_HINTS = (
    ("mapping values are not allowed", "quote a value that contains ': ', or fix the indentation"),
    ("could not find expected ':'", "check the indentation of this line and the one before"),
    ("found undefined alias", "define the anchor (&name) before using the alias (*name)"),
    ("another document", "keep one YAML document per policy file (no second '---')"),
    ("quoted scalar", "close the quote, or escape the quote character inside the value"),
    ("flow", "close the bracket, or quote a value that contains [ ] { } or ,"),
)
_DEFAULT_HINT = "check the indentation and quoting on this line"
_OPENERS = {"FlowSequenceStartToken": "'['", "FlowMappingStartToken": "'{'"}
_CLOSERS = ("FlowSequenceEndToken", "FlowMappingEndToken")
# What YAML 1.1 allows in a stream (besides tab, LF, CR): anything else is refused.
_NOT_ALLOWED = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def position_of(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character ``index`` of ``text``."""
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def bad_character(text: str, file: str) -> PolicyError | None:
    """The first character YAML does not accept, with where it is; None when all are fine."""
    found = _NOT_ALLOWED.search(text)
    if found is None:
        return None
    char = found.group()
    line, column = position_of(text, found.start())
    return PolicyError(
        f"not valid YAML: character U+{ord(char):04X} is not allowed in a policy file",
        location=Location(file, line, column),
        hint="remove it; write control characters inside double quotes as escapes like \\t",
    )


def syntax_error(file: str, text: str, exc: yaml.YAMLError) -> PolicyError:
    """The message for any error PyYAML raised while composing ``text``."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        # A reader error: a character the reader refused, at ``position``.
        index = getattr(exc, "position", 0)
        line, column = position_of(text, index if isinstance(index, int) else 0)
        return PolicyError(
            f"not valid YAML: {getattr(exc, 'reason', None) or exc}",
            location=Location(file, line, column),
            hint=_DEFAULT_HINT,
        )
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "unreadable"
    hint = next((h for needle, h in _HINTS if needle in f"{problem} {exc.context}"), _DEFAULT_HINT)
    if "another document" in problem:
        problem = "a policy file holds one YAML document, but a second one starts here"
    if mark is not None and _tab_at(text, mark.line, mark.column):
        problem, hint = "found a tab character", "indent with spaces; YAML does not allow tabs"
    elif mark is not None:
        problem += _began(text, exc, mark)
    location = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
    return PolicyError(f"not valid YAML: {problem}", location=location, hint=hint)


def _began(text: str, exc: yaml.MarkedYAMLError, mark: Any) -> str:
    """``"; the '[' opened at line 2, column 11 is still open here"`` or the like."""
    bracket = _open_bracket(text, (mark.line, mark.column))
    if bracket is not None:
        what, line, column = bracket
        return f"; the {what} opened at line {line}, column {column} is still open here"
    context, start = exc.context, exc.context_mark
    if not context or start is None or (start.line, start.column) == (mark.line, mark.column):
        return ""
    thing = context.removeprefix("while ").replace("scanning", "reading")
    thing = thing.replace("parsing", "reading").replace("a quoted scalar", "a quoted string")
    return f" (while {thing} that begins at line {start.line + 1}, column {start.column + 1})"


def _open_bracket(text: str, until: tuple[int, int]) -> tuple[str, int, int] | None:
    """The innermost ``[`` or ``{`` still open where parsing stopped, if any."""
    stack: list[tuple[str, int, int]] = []
    loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for token in yaml.scan(text, Loader=loader):
            start = token.start_mark
            if (start.line, start.column) >= until:
                break
            name = type(token).__name__
            if name in _OPENERS:
                stack.append((_OPENERS[name], start.line + 1, start.column + 1))
            elif name in _CLOSERS and stack:
                stack.pop()
    except yaml.YAMLError:
        pass  # the scanner stops at the same problem; the stack is what was open then
    return stack[-1] if stack else None


def _tab_at(text: str, line: int, column: int) -> bool:
    """True when the character YAML stumbled on is a tab (libyaml does not say so)."""
    lines = text.splitlines()
    return line < len(lines) and lines[line][column : column + 1] == "\t"
