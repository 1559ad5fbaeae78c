"""Every regular expression a policy gives runs here, on RE2, never on Python's ``re``.

Patterns meet outside data: probe output, log lines, command lines, alert labels.
Python's backtracking engine can take exponential time on a pattern like ``(a+)+$``
(one bad line froze the whole agent), so Medic compiles every user-supplied pattern
with RE2, which matches in time linear in the text. What one test may cost is bounded
three ways, and ``bench/bench_condition_cost.py`` measures it:

- a pattern compiles to at most ``MAX_PROGRAM`` RE2 instructions, so the work per
  character of text is bounded (a test costs at most text length x program size);
- a test reads at most ``MAX_SUBJECT`` characters of its text (the first ones);
  callers that bound their text already (log lines, command lines) pass their own limit;
- each compiled pattern may use ``PATTERN_MEMORY`` bytes (program and match cache).

The dialect is RE2's (docs/conditions.md, "Regular expressions"): named groups
``(?P<name>...)`` work; backreferences, lookaround, atomic groups and possessive
quantifiers do not, and :mod:`medic.pattern_syntax` reports them with their position
and a rewrite. ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only, and ``$`` matches
only at the very end of the text (not before a final newline) unless ``(?m)`` is on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, cast

import re2

from medic.errors import PatternError
from medic.pattern_syntax import first_unsupported, unbalanced

MAX_PROGRAM = 1000
MAX_SUBJECT = 16 * 1024
PATTERN_MEMORY = 1024 * 1024
DIALECT = "patterns run on RE2, in linear time"
# RE2's complaint -> how to fix it.
_FIXES = {
    "missing )": "close the group, or write \\( for a literal (",
    "missing ]": "close the class, or write \\[ for a literal [",
    "unexpected )": "write \\) for a literal )",
    "trailing \\": "write \\\\ for a literal backslash",
    "invalid escape sequence": "RE2 knows \\d \\w \\s \\b \\A \\z \\x{41} \\pL, escaped signs",
    "no argument for repetition operator": "put it after what repeats, or escape it",
    "bad repetition operator": "write one quantifier, or escape the second",
    "invalid repetition size": "repeat at most 1000 times",
    "invalid character class range": "write the lower end first, like [a-z]",
    "invalid named capture group": "name a group like (?P<name>...) with letters, digits, _",
}
_TOO_LARGE_HINT = (
    "simplify it: counted repetitions like {500} and Unicode classes like \\pL make it large"
)


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern; equal to another with the same text and case setting."""

    text: str
    ignore_case: bool = False
    _regex: Any = field(compare=False, repr=False, kw_only=True)

    def search(self, subject: str, limit: int = MAX_SUBJECT) -> bool:
        """True when the pattern occurs within the first ``limit`` characters of ``subject``."""
        return _run(self._regex.search, subject, limit) is not None

    def fullmatch(self, subject: str, limit: int = MAX_SUBJECT) -> bool:
        """True when the pattern matches all of ``subject``; longer than ``limit`` never does."""
        if len(subject) > limit:
            return False
        return _run(self._regex.fullmatch, subject, limit) is not None

    def groups(self, subject: str, limit: int = MAX_SUBJECT) -> dict[str, str | None] | None:
        """The named groups of the first match in the first ``limit`` characters, or None."""
        match = _run(_capturing(self.text, self.ignore_case).search, subject, limit)
        return None if match is None else cast(dict[str, str | None], match.groupdict())

    @property
    def group_names(self) -> tuple[str, ...]:
        """The names of the pattern's named groups, in order."""
        index = cast(dict[str, int], _capturing(self.text, self.ignore_case).groupindex)
        return tuple(sorted(index, key=index.__getitem__))


def compile_pattern(text: object, *, ignore_case: bool = False) -> Pattern:
    """Compile a user-supplied pattern; raises PatternError saying where and how to fix it."""
    if not isinstance(text, str):
        raise PatternError(f"expected text, not {type(text).__name__}", hint="quote it in the YAML")
    return _pattern(text, ignore_case)


def pattern_problem(option: str, text: object, *, ignore_case: bool = False) -> str | None:
    """For a probe's ``validate()``: what is wrong with the pattern in ``option``, if anything."""
    try:
        compile_pattern(text, ignore_case=ignore_case)
    except PatternError as exc:
        shown = text if not isinstance(text, str) or len(text) <= 80 else text[:77] + "..."
        return f"{option} {shown!r}: {exc}"
    return None


@functools.lru_cache(maxsize=1024)
def _pattern(text: str, ignore_case: bool) -> Pattern:
    found = first_unsupported(text)
    if found is not None:
        raise PatternError(
            f"{found.name} `{found.text}` is not supported ({DIALECT})",
            position=found.index + 1,
            hint=found.hint,
        )
    return Pattern(text, ignore_case, _regex=_compile(text, ignore_case, capture=False))


@functools.lru_cache(maxsize=256)
def _capturing(text: str, ignore_case: bool) -> Any:
    """The same pattern with its groups kept (slower than the test-only form)."""
    return _compile(text, ignore_case, capture=True)


def _compile(text: str, ignore_case: bool, *, capture: bool) -> Any:
    options = re2.Options()
    options.max_mem = PATTERN_MEMORY
    options.log_errors = False
    options.case_sensitive = not ignore_case
    options.never_capture = not capture
    try:
        regex = re2.compile(text, options)
    except re2.error as exc:
        raise _invalid(text, exc) from None
    except UnicodeEncodeError:
        raise PatternError(
            "it is not valid Unicode text", hint="remove the lone surrogate"
        ) from None
    # The wrapper keeps the RE2 object in _regexp; ProgramSize() is RE2's public API.
    size = int(regex._regexp.ProgramSize())
    if size > MAX_PROGRAM:
        raise PatternError(
            f"too large: it compiles to {size} RE2 instructions, at most {MAX_PROGRAM}",
            hint=_TOO_LARGE_HINT,
        )
    return regex


def _invalid(text: str, exc: Exception) -> PatternError:
    """RE2's complaint (``missing ): (error``), with where in the pattern its fragment is."""
    raw = exc.args[0] if exc.args else ""
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    problem, _, fragment = message.partition(": ")
    if problem.startswith("pattern too large"):
        return PatternError(
            f"too large: it needs more than {PATTERN_MEMORY // 1024} KiB of memory",
            hint=_TOO_LARGE_HINT,
        )
    if problem in ("missing )", "missing ]", "unexpected )"):
        found = unbalanced(text)
        closes = f" to close `{text[found]}`" if problem[0] == "m" and found is not None else ""
        return PatternError(
            problem + closes,
            position=None if found is None else found + 1,
            hint=_FIXES[problem],
        )
    found = text.find(fragment) if fragment else -1
    return PatternError(
        problem + (f" `{fragment}`" if fragment else ""),
        position=found + 1 if found >= 0 else None,
        hint=_FIXES.get(problem, "docs/conditions.md lists the RE2 syntax"),
    )


def _run(method: Any, subject: str, limit: int) -> Any:
    """``method`` over the first ``limit`` characters of ``subject``.

    One character more is handed over as context, so ``$``, ``\\z`` and ``\\b`` do not
    take the cut for the end of the text. A lone surrogate (undecodable input) reads as
    ``?``.
    """
    text = subject[: limit + 1]
    try:
        return method(text, 0, limit)
    except UnicodeEncodeError:
        return method(text.encode("utf-8", "replace").decode("utf-8"), 0, limit)
