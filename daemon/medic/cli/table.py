"""The one table renderer of the CLI: aligned columns that fit the terminal.

Every command that prints rows for people (``medic status``, ``medic audit list``,
``medic silence list``, ...) renders them here. When the rows are wider than the
terminal, the columns marked flexible (the free text: values, summaries, reasons) are
cut, the widest first, with ``…``, down to :data:`MIN_FLEX` characters; fixed columns
(times, ids, states) are never cut. The width is ``COLUMNS`` when set, else the
terminal's; output that goes to a pipe or a file is not cut at all.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence

ELLIPSIS = "…"
GAP = "  "
MIN_FLEX = 12


def terminal_width() -> int | None:
    """``COLUMNS`` if it is a sane number, else the terminal's width; None for a pipe."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isascii() and columns.isdigit() and 20 <= int(columns) <= 10_000:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def cut(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, its last one ``…`` when cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + ELLIPSIS


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
    """``headers`` and ``rows`` as aligned text lines, fitted to ``width`` (or the
    terminal's) by cutting the ``flex`` columns (indexes; default the last)."""
    table = [list(headers), *[list(row) for row in rows]]
    count = len(headers)
    widths = [max(len(line[i]) for line in table) for i in range(count)]
    limit = width if width is not None else terminal_width()
    if limit is not None:
        widths = _fit(widths, [i % count for i in flex], limit)
    return "\n".join(
        GAP.join(cut(cell, w).ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in table
    )
