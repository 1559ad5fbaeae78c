"""The CLI's one table renderer: a row is one line that fits the terminal, whatever
its cells hold, and every listing goes through it."""

from __future__ import annotations

import re
from pathlib import Path

from medic import humanize
from medic.cli import table

CLI = Path(__file__).parent.parent / "daemon" / "medic" / "cli"
# Hand-aligned output left on purpose: not listings of rows.
HAND_ALIGNED = {
    "backtest.py": "a fixed two-number comparison per policy, not a listing",
    "audit.py": "the label: value header of one incident in `audit show`",
}


def test_a_line_break_in_a_cell_does_not_break_the_row() -> None:
    """A value holding a newline, a tab or a terminal escape prints escaped, on its row."""
    text = table.render(["A", "NOTE"], [["1", "two\nlines"], ["2", "\x1b[2Jcleared\ttab"]])
    assert text.splitlines() == [
        "A  NOTE",
        "1  two\\nlines",
        "2  \\x1b[2Jcleared tab",
    ]
    assert "\x1b" not in text


def test_fixed_columns_wider_than_the_terminal_are_cut_at_its_edge() -> None:
    """When even the fixed columns do not fit, each line ends at the edge with …."""
    rows = [["x" * 30, "y" * 30, "free text"]]
    lines = table.render(["A", "B", "C"], rows, flex=(2,), width=40).splitlines()
    assert [len(line) for line in lines] == [40, 40]
    assert lines[1] == "x" * 30 + "  " + "y" * 7 + "…"


def test_wide_characters_count_as_two_columns() -> None:
    """CJK text takes two terminal columns a character: it is aligned and cut by columns."""
    rows = [["日本語のテキストです" * 4, "ok"], ["abc", "ok"]]
    lines = table.render(["TEXT", "S"], rows, flex=(0,), width=30).splitlines()
    assert [table.text_width(line) for line in lines[1:]] == [30, 30]
    assert "…" in lines[1] and lines[1].endswith(" ok")  # a wide character is never split


def test_fleet_status_is_a_fitted_table_with_coarse_ages() -> None:
    """`medic fleet status` renders with the shared renderer; the heartbeat reads 3m ago."""
    from medic.cli.fleet import agents_table

    agent = {"host": "web-1", "state": "live", "version": "0.1.0", "policy_digest": "abc"}
    text = agents_table(
        [{**agent, "drift": True, "open_incidents": [1], "last_heartbeat_age": 190}]
    )
    assert text.splitlines() == [
        "HOST   STATE  VERSION  POLICIES   OPEN  HEARTBEAT",
        "web-1  live   0.1.0    abc DRIFT  1     3m ago",
    ]
    assert humanize.age(59.9) == "59s ago"


def test_no_listing_aligns_its_own_columns() -> None:
    """No CLI module pads columns by hand (f"{x:<24}", ljust): listings use table.render."""
    padded = re.compile(r"\{[^}]*:[<>^]?\d+\}|\.ljust\(|\.rjust\(")
    found = {
        path.name
        for path in CLI.glob("*.py")
        if path.name != "table.py" and padded.search(path.read_text(encoding="utf-8"))
    }
    assert found == set(HAND_ALIGNED)
