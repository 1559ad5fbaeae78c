"""Policy and target filters that may be globs, turned into SQL safely.

A filter without ``*``, ``?`` or ``[`` is a name and becomes ``column = ?`` (the
indexes serve it as before). A glob becomes ``column GLOB ?`` with the pattern as a
bound parameter, never spliced into the SQL. The glob is read as Python's
:func:`fnmatch.fnmatchcase` (and silences) read it, and rewritten into SQLite's
dialect where the two differ:

- ``[!abc]`` negates in fnmatch; SQLite writes it ``[^abc]``;
- ``^`` first in a class is literal in fnmatch and negates in SQLite: it is moved to
  the end of the class (a class of ``^`` alone becomes a plain ``^``);
- a ``[`` with no closing ``]`` is literal in fnmatch and matches nothing in SQLite:
  it becomes ``[[]``.

Both are case-sensitive, and ``*`` and ``?`` match any character, ``/`` included.
"""

from __future__ import annotations

GLOB_CHARACTERS = frozenset("*?[")


def is_glob(text: str) -> bool:
    """True when ``text`` holds a glob character (``*``, ``?`` or ``[``)."""
    return not GLOB_CHARACTERS.isdisjoint(text)


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start``, or -1 (fnmatch's rule:
    a ``]`` right after ``[`` or ``[!`` is a member, not the end)."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    end = pattern.find("]", i)
    return end


def sqlite_glob(pattern: str) -> str:
    """``pattern`` (fnmatch syntax) written for SQLite's ``GLOB``, same matches."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char != "[":
            out.append(char)
            i += 1
            continue
        end = _class_end(pattern, i)
        if end < 0:
            out.append("[[]")
            i += 1
            continue
        members = pattern[i + 1 : end]
        negate = members.startswith("!")
        if negate:
            members = members[1:]
        if members.startswith("^"):
            members = members[1:] + "^"
        if members == "^" and not negate:
            out.append("^")
        else:
            out.append("[" + ("^" if negate else "") + members + "]")
        i = end + 1
    return "".join(out)


def name_clause(column: str, value: str) -> tuple[str, str]:
    """SQL and its one parameter matching ``column`` against a name or a glob.

    ``column`` is one of the code's own fixed column names, never input."""
    if is_glob(value):
        return f"{column} GLOB ?", sqlite_glob(value)
    return f"{column} = ?", value
