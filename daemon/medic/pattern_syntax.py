"""Where a regular expression leaves RE2's dialect: Python or Perl syntax RE2 lacks.

Medic runs every user-supplied pattern on RE2 (:mod:`medic.patterns`), which matches
in time linear in the text because it never backtracks. RE2 therefore has no
backreferences, lookaround, atomic groups or possessive quantifiers, and a few
spellings differ from Python's ``re``. RE2's own error names the construct but not
where it is, and some Python spellings are valid RE2 with another meaning (``\\12`` is
a backreference in Python and an octal escape in RE2; ``a{,3}`` repeats in Python and
is literal text in RE2). :func:`first_unsupported` walks the pattern once, skipping
escapes and character classes, and returns the first such construct with its index
and the rewrite to suggest.
"""

from __future__ import annotations

from dataclasses import dataclass

_LOOKAROUND = "rewrite without it: match the text itself, or test it with two patterns"
_BACKREF = "rewrite without it: RE2 cannot match a group's text again; spell out the alternatives"
_NO_BACKTRACKING = "RE2 never backtracks, so it is not needed"

# After "(": the opening, what it is, the rewrite. Longer openings first.
_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("(?<=", "lookbehind", _LOOKAROUND),
    ("(?<!", "negative lookbehind", _LOOKAROUND),
    ("(?=", "lookahead", _LOOKAROUND),
    ("(?!", "negative lookahead", _LOOKAROUND),
    ("(?>", "atomic group", f"write a plain group (?:...); {_NO_BACKTRACKING}"),
    ("(?P=", "named backreference", _BACKREF),
    ("(?P>", "group call", "write the group out again"),
    ("(?(", "conditional group", "rewrite it with alternatives, like (a|b)"),
    ("(?#", "comment", "remove the comment"),
)
# Escapes outside a character class: letter -> what it is, the rewrite.
_ESCAPES: dict[str, tuple[str, str]] = {
    "Z": ("end-of-text anchor", "write \\z: RE2 spells the end of the text \\z"),
    "u": ("\\u escape", "write \\x{263a} for a code point"),
    "U": ("\\U escape", "write \\x{1F600} for a code point"),
    "N": ("named character", "write the character itself, or \\x{...} with its code point"),
}
# Inline flags RE2 has: i (case), m (multi-line), s (dot matches newline), U (ungreedy).
_FLAGS = frozenset("imsU-")
_FOREIGN_FLAGS: dict[str, tuple[str, str]] = {
    "x": ("verbose flag", "remove it and write the pattern without spaces or comments"),
    "a": ("ASCII flag", "remove it: \\d, \\w, \\s and \\b are ASCII-only in RE2 already"),
    "u": ("Unicode flag", "remove it: patterns are Unicode already"),
    "L": ("locale flag", "remove it: RE2 has no locale-dependent matching"),
}
_OCTAL = frozenset("01234567")


@dataclass(frozen=True)
class Unsupported:
    """One construct RE2 lacks: its name, its text, its 0-based index, the rewrite."""

    name: str
    text: str
    index: int
    hint: str


def first_unsupported(pattern: str) -> Unsupported | None:
    """The first construct of ``pattern`` that RE2 lacks or reads differently, if any."""
    index = 0
    while index < len(pattern):
        char = pattern[index]
        found: Unsupported | None = None
        if char == "\\":
            found = _escape(pattern, index)
            index += 2
        elif char == "[":
            index = _class_end(pattern, index)
        elif char == "(":
            found = _group(pattern, index)
            index += 2 if pattern.startswith("(?", index) else 1
        elif char in "*+?":
            found = _possessive(pattern, index, index + 1)
            index += 1
        elif char == "{":
            found, index = _repetition(pattern, index)
        else:
            index += 1
        if found is not None:
            return found
    return None


def unbalanced(pattern: str) -> int | None:
    """The index of the first ``)`` that closes nothing, else of a ``(`` or ``[`` never closed."""
    opened: list[int] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "[":
            end = _class_end(pattern, index)
            if end > len(pattern):
                return index
            index = end
            continue
        if char == "(":
            opened.append(index)
        elif char == ")":
            if not opened:
                return index
            opened.pop()
        index += 2 if char == "\\" else 1
    return opened[-1] if opened else None


def _escape(pattern: str, index: int) -> Unsupported | None:
    letter = pattern[index + 1 : index + 2]
    if letter in _ESCAPES:
        name, hint = _ESCAPES[letter]
        return Unsupported(name, "\\" + letter, index, hint)
    if letter and letter in "123456789":
        digits = pattern[index + 1 : index + 4]
        if len(digits) == 3 and set(digits) <= _OCTAL:
            return None  # three octal digits: a character code in both dialects
        number = digits[:2] if _number(digits[1:2]) else letter
        return Unsupported("backreference", "\\" + number, index, _BACKREF)
    return None


def _class_end(pattern: str, index: int) -> int:
    """The index just after the character class that opens at ``index``."""
    index += 1
    if pattern.startswith("^", index):
        index += 1
    if pattern.startswith("]", index):
        index += 1  # a leading ] is a literal
    while index < len(pattern) and pattern[index] != "]":
        index += 2 if pattern[index] == "\\" else 1
    return index + 1


def _group(pattern: str, index: int) -> Unsupported | None:
    for opening, name, hint in _GROUPS:
        if pattern.startswith(opening, index):
            return Unsupported(name, opening, index, hint)
    if not pattern.startswith("(?", index) or pattern.startswith(("(?P<", "(?<"), index):
        return None
    end = index + 2
    while end < len(pattern) and (pattern[end].isalpha() or pattern[end] == "-"):
        letter = pattern[end]
        if letter not in _FLAGS:
            name, hint = _FOREIGN_FLAGS.get(letter, ("flag", "RE2 knows the flags i, m, s and U"))
            return Unsupported(name, pattern[index : end + 1], index, hint)
        end += 1
    return None


def _possessive(pattern: str, start: int, after: int) -> Unsupported | None:
    """A quantifier from ``start`` to ``after`` followed by ``+`` is possessive."""
    if pattern.startswith("+", after):
        text = pattern[start : after + 1]
        return Unsupported(
            "possessive quantifier", text, start, f"drop the last +; {_NO_BACKTRACKING}"
        )
    return None


def _repetition(pattern: str, index: int) -> tuple[Unsupported | None, int]:
    """``{n}``, ``{n,}``, ``{n,m}``; Python's ``{,m}`` and ``{,}`` are literal text in RE2."""
    end = pattern.find("}", index)
    low, comma, high = pattern[index + 1 : max(end, index)].partition(",")
    if end < 0 or (high and not _number(high)):
        return None, index + 1  # not a repetition: literal text in both dialects
    if not low and comma:
        text = pattern[index : end + 1]
        hint = f"write {f'{{0,{high}}}' if high else '*'}: RE2 reads {text} as literal text"
        return Unsupported("repetition without a minimum", text, index, hint), end + 1
    if not _number(low):
        return None, index + 1
    return _possessive(pattern, index, end + 1), end + 1


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()
