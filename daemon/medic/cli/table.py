"""The one table renderer of the CLI: aligned columns that fit the terminal.

Every command that prints rows for people (``medic status``, ``medic audit list``,
``medic silence list``, ``medic fleet status``, ...) renders them here. When the rows
are wider than the terminal, the columns marked flexible (the free text: values,
summaries, reasons) are cut, the widest first, with ``…``, down to :data:`MIN_FLEX`
characters; should the fixed columns (times, ids, states) still not fit, each line is
cut at the terminal's edge. A row is always one line: line breaks, tabs and other
control characters in a cell (text from probes and the audit log) are shown escaped,
never sent to the terminal. Widths are terminal columns (a CJK character takes two).
The width is ``COLUMNS`` when set, else the terminal's; output that goes to a pipe or
a file is not cut at all.
"""

from __future__ import annotations

import os
import shutil
import sys
import unicodedata
from collections.abc import Sequence

ELLIPSIS = "…"
GAP = "  "
MIN_FLEX = 12
# Characters a cell must not send to the terminal as they are: a line break would
# break the row, an escape sequence could rewrite what is shown.
_SHOWN = {"\n": "\\n", "\r": "\\r", "\t": " "}


def terminal_width() -> int | None:
    """``COLUMNS`` if it is a sane number, else the terminal's width; None for a pipe."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isascii() and columns.isdigit() and 20 <= int(columns) <= 10_000:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in {"W", "F"} else 1


def text_width(text: str) -> int:
    """How many terminal columns ``text`` takes."""
    return len(text) if text.isascii() else sum(_char_width(c) for c in text)


def clean(text: str) -> str:
    """``text`` on one line: breaks and control characters escaped (``\\n``, ``\\x1b``)."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable() or unicodedata.category(char) in {"Zs", "Mn", "Mc", "Me"}:
            out.append(char)
        else:
            out.append(_SHOWN.get(char) or char.encode("unicode_escape").decode("ascii"))
    return "".join(out)


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` terminal columns, its last one ``…`` when cut."""
    if text_width(text) <= limit:
        return text
    room = max(0, limit - 1)
    used = 0
    for index, char in enumerate(text):
        used += _char_width(char)
        if used > room:
            return text[:index] + ELLIPSIS
    return text + ELLIPSIS  # pragma: no cover - a text that fits returned above


def _pad(text: str, limit: int) -> str:
    return text + " " * (limit - text_width(text))


def _fit(widths: list[int], flex: Sequence[int], limit: int) -> list[int]:
    """Column widths whose total (with gaps) is at most ``limit``, shrinking ``flex``
    columns one character at a time, the widest first, never below MIN_FLEX."""
    widths = list(widths)
    for i in flex:  # no column needs to be wider than the whole line
        widths[i] = min(widths[i], max(MIN_FLEX, limit))
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - limit
    while excess > 0:
        shrinkable = [i for i in flex if widths[i] > MIN_FLEX]
        if not shrinkable:
            break
        widths[max(shrinkable, key=lambda i: widths[i])] -= 1
        excess -= 1
    return widths


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    flex: Sequence[int] = (-1,),
    width: int | None = None,
) -> str:
    """``headers`` and ``rows`` as aligned text lines, one per row, fitted to ``width``
    (or the terminal's) by cutting the ``flex`` columns (indexes; default the last)."""
    table = [[clean(str(cell)) for cell in headers]]
    table += [[clean(str(cell)) for cell in row] for row in rows]
    count = len(headers)
    widths = [max(text_width(line[i]) for line in table) for i in range(count)]
    limit = width if width is not None else terminal_width()
    if limit is not None:
        widths = _fit(widths, [i % count for i in flex], limit)
    lines = (
        GAP.join(_pad(cut(cell, w), w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in table
    )
    return "\n".join(lines if limit is None else (cut(line, limit) for line in lines))
