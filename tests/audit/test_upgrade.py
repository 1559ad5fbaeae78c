"""Pending migrations run in a child process, so the agent never loads sqlite-utils."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from medic.audit.migrations import MIGRATIONS, is_current, migrate
from medic.audit.upgrade import Apart, needs_migrating, open_for_writing, start_apart

ALL = [name for name, _ in MIGRATIONS]


def test_a_new_database_is_migrated_by_the_child(tmp_path: Path) -> None:
    """A fresh state directory: the child creates the database with every migration."""
    path = tmp_path / "state" / "audit.db"
    assert start_apart(path).wait() == ALL
    conn = sqlite3.connect(path)
    assert is_current(conn)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_an_up_to_date_database_starts_no_child(tmp_path: Path) -> None:
    """Every start after the first: no process, nothing to wait for."""
    path = tmp_path / "audit.db"
    migrate(open_for_writing(path))
    apart = start_apart(path)
    assert not needs_migrating(path)
    assert apart.process is None
    assert apart.wait() is None


def test_a_failed_child_leaves_the_migrating_to_the_store(tmp_path: Path) -> None:
    """A child that cannot create the database is logged, and the store then says why."""
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")
    with capture_logs() as logs:
        assert start_apart(blocker / "audit.db").wait() is None
    assert logs[0]["event"] == "audit.migrate_apart_failed"
    assert "FileExistsError" in logs[0]["error"] or "Not a directory" in logs[0]["error"]


def test_a_child_that_prints_no_list_is_logged(tmp_path: Path) -> None:
    """Output that is not the JSON list of migrations is a logged failure, not a silent one."""
    child = subprocess.Popen(
        ["/bin/echo", "Python warning: something"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    with capture_logs() as logs:
        assert Apart(tmp_path / "audit.db", child).wait() is None
    assert logs[0]["event"] == "audit.migrate_apart_failed"
    assert logs[0]["error"] == "the child printed 'Python warning: something'"


def test_a_database_that_is_not_sqlite_needs_migrating(tmp_path: Path) -> None:
    """A file SQLite cannot read is left to the store, whose error names the file."""
    path = tmp_path / "audit.db"
    path.write_text("not a database")
    assert needs_migrating(path)


def test_the_child_imports_nothing_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A `medic` package in the directory the agent started in is not what the child runs."""
    decoy = tmp_path / "cwd" / "medic"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy ran')\n")
    monkeypatch.chdir(tmp_path / "cwd")
    assert start_apart(tmp_path / "audit.db").wait() == ALL
