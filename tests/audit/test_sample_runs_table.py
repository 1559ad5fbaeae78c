"""The ``samples`` table's runs (:mod:`medic.audit.samples`): read from old databases,
and hand-edited runs that make no sense are skipped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from medic.audit import samples as table
from medic.audit.migrations import migrate
from medic.clock import iso

T0 = 1_700_000_000.0


def test_a_database_from_before_runs_reads_as_runs_of_one(tmp_path: Path) -> None:
    """``medic backtest`` on a log the agent has not upgraded yet: one measurement a row."""
    conn = sqlite3.connect(tmp_path / "old.db")
    conn.execute(
        "CREATE TABLE samples (id INTEGER PRIMARY KEY, time TEXT, policy TEXT, target TEXT,"
        " probe TEXT, recorded INTEGER, fields TEXT)"
    )
    conn.execute(
        "INSERT INTO samples (time, policy, target, probe, recorded, fields)"
        " VALUES (?, 'p', 't', 'x:1', 1, '{\"v\":1}')",
        (iso(T0),),
    )
    (row,) = table.recorded_rows(conn, "p", T0 - 1, T0 + 1)
    assert (row.time, row.span, row.measured, row.ticking, row.fields) == (T0, 0.0, 1, (), {"v": 1})


def test_a_run_that_started_before_the_period_is_read_with_it(tmp_path: Path) -> None:
    """A run reaching into the period counts, though its first measurement is before it."""
    conn = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
    migrate(conn)
    run = table.SampleRow(T0, "p", "t", "x:1", True, {"age": 1.0})
    table.insert(conn, [run._replace(span=50.0, measured=51, ticking=("age",))])
    (row,) = table.recorded_rows(conn, "p", T0 + 40, T0 + 100)
    assert row.ticking == ("age",) and row.measured == 51
    assert table.fields_at(row, T0 + 40) == {"age": 41.0}
    assert table.recorded_rows(conn, "p", T0 + 51, T0 + 100) == []


def test_a_hand_edited_run_that_makes_no_sense_is_skipped(tmp_path: Path) -> None:
    """A negative span, a zero count or a ticking field that is no number: the row goes."""
    conn = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
    migrate(conn)
    for span, count, ticking in [(-1.0, 2, None), (1.0, 0, None), (1.0, 2, '["name"]')]:
        conn.execute(
            "INSERT INTO samples (time, policy, target, probe, recorded, fields, span, count,"
            " ticking) VALUES (?, 'p', 't', 'x:1', 1, '{\"name\":\"a\"}', ?, ?, ?)",
            (iso(T0), span, count, ticking),
        )
    assert table.recorded_rows(conn, "p", T0 - 1, T0 + 100) == []
