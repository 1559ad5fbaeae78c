"""medic.regular_file: a file named from outside is read without blocking and bounded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kit.fifo import make_fifo, outcome_within
from medic.regular_file import (
    FileTooBigError,
    NotRegularFileError,
    open_regular,
    read_head,
    read_regular,
)


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO with no writer is an error naming what it is, not a hang."""
    fifo = make_fifo(tmp_path / "f")
    outcome = outcome_within(lambda: read_regular(str(fifo), 100), fifo)
    assert isinstance(outcome, NotRegularFileError)
    assert outcome.strerror == "not a regular file (a FIFO, a device or a socket)"
    assert outcome.filename == str(fifo)


def test_a_device_is_refused() -> None:
    """/dev/zero would read forever: it is refused before a byte is read."""
    with pytest.raises(NotRegularFileError):
        read_regular("/dev/zero", 100)


def test_a_folder_is_refused(tmp_path: Path) -> None:
    """A folder is not a regular file either."""
    with pytest.raises(OSError, match="not a regular file"):
        read_regular(str(tmp_path), 100)


def test_a_file_over_the_bound_is_an_error(tmp_path: Path) -> None:
    """A file bigger than the limit is an error that names the bound."""
    big = tmp_path / "big"
    big.write_bytes(b"x" * 101)
    with pytest.raises(FileTooBigError, match="bigger than 100 bytes"):
        read_regular(str(big), 100)


def test_a_file_at_the_bound_is_read_whole(tmp_path: Path) -> None:
    """Exactly ``limit`` bytes is within the bound."""
    file = tmp_path / "ok"
    file.write_bytes(b"y" * 100)
    assert read_regular(str(file), 100) == b"y" * 100


def test_read_head_cuts_without_error(tmp_path: Path) -> None:
    """read_head reads at most the limit and leaves the rest."""
    file = tmp_path / "pid"
    file.write_bytes(b"1234\nmore")
    assert read_head(str(file), 4) == b"1234"


def test_open_regular_without_follow_refuses_a_link(tmp_path: Path) -> None:
    """follow=False refuses a symbolic link (ELOOP) instead of reading its target."""
    (tmp_path / "real").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError, match="symbolic links"):
        open_regular(str(tmp_path / "link"), follow=False)


def test_a_device_is_refused_before_it_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    """A device is refused on its look: opening some (a watchdog, a tape) acts."""
    opened: list[str] = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda p, *a: opened.append(p) or real_open(p, *a))
    with pytest.raises(NotRegularFileError):
        read_regular("/dev/null", 10)
    assert opened == []


def test_a_fifo_swapped_in_after_the_look_is_refused_on_the_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look saw a regular file, the open found a FIFO: the descriptor's kind decides."""
    regular = tmp_path / "r"
    regular.write_text("x")
    fifo = make_fifo(tmp_path / "f")
    seen = regular.stat()
    monkeypatch.setattr(os, "stat", lambda *_a, **_k: seen)
    outcome = outcome_within(lambda: read_regular(str(fifo), 100), fifo)
    assert isinstance(outcome, NotRegularFileError)
