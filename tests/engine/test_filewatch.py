"""The policy file watch: inotify on the event loop, one wake-up per burst of edits."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from medic.engine.filewatch import FileWatch

DEBOUNCE = 0.1


async def wakeups(watch: FileWatch, change: Callable[[], None], wait: float = 0.6) -> int:
    """How many times ``watch`` yields within ``wait`` seconds after ``change`` runs."""
    count = 0

    async def count_them(changes: AsyncIterator[None]) -> None:
        nonlocal count
        async for _ in changes:
            count += 1

    task = asyncio.create_task(count_them(watch.changes(debounce=DEBOUNCE)))
    await asyncio.sleep(0.05)
    change()
    await asyncio.sleep(wait)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return count


@pytest.mark.asyncio
async def test_a_burst_of_edits_wakes_once(tmp_path: Path) -> None:
    """Three writes in quick succession to a policy file give one reload, not three."""
    policy = tmp_path / "web.yaml"
    policy.write_text("version: 1\n")

    def edit() -> None:
        for n in range(3):
            policy.write_text(f"version: 1\n# edit {n}\n")

    with FileWatch([tmp_path]) as watch:
        assert await wakeups(watch, edit) == 1


@pytest.mark.asyncio
async def test_a_directory_made_later_is_watched(tmp_path: Path) -> None:
    """A file written in a folder created after the watch began is seen."""
    with FileWatch([tmp_path]) as watch:
        assert await wakeups(watch, (tmp_path / "db").mkdir) == 1
        assert await wakeups(watch, lambda: (tmp_path / "db" / "pg.yaml").write_text("x")) == 1


@pytest.mark.asyncio
async def test_editor_scratch_files_wake_nothing(tmp_path: Path) -> None:
    """vim's swap file and an Emacs backup or lock file are not policy changes."""

    def scratch() -> None:
        for name in (".web.yaml.swp", "web.yaml~", ".#web.yaml"):
            (tmp_path / name).write_text("x")

    with FileWatch([tmp_path]) as watch:
        assert await wakeups(watch, scratch) == 0


@pytest.mark.asyncio
async def test_a_watched_file_replaced_by_rename_is_seen(tmp_path: Path) -> None:
    """A file path is watched through its folder: a save by rename counts, a neighbour does not."""
    policy = tmp_path / "web.yaml"
    policy.write_text("version: 1\n")

    def save_by_rename() -> None:
        (tmp_path / "web.yaml.new").write_text("version: 1\n# new\n")
        (tmp_path / "web.yaml.new").replace(policy)

    with FileWatch([policy]) as watch:
        assert await wakeups(watch, lambda: (tmp_path / "other.yaml").write_text("x")) == 0
        assert await wakeups(watch, save_by_rename) == 1


@pytest.mark.asyncio
async def test_watching_starts_no_thread(tmp_path: Path) -> None:
    """The kernel's events are read on the event loop: the thread count stays as it was."""
    before = threading.active_count()
    with FileWatch([tmp_path]) as watch:
        assert await wakeups(watch, lambda: (tmp_path / "a.yaml").write_text("x")) == 1
        assert threading.active_count() == before


@pytest.mark.asyncio
async def test_a_removed_folder_is_no_longer_watched(tmp_path: Path) -> None:
    """Folders made and removed again leave nothing behind in the watch."""
    with FileWatch([tmp_path]) as watch:
        assert await wakeups(watch, (tmp_path / "db").mkdir) == 1
        assert watch.watched() == 2
        assert await wakeups(watch, (tmp_path / "db").rmdir) == 1
        assert watch.watched() == 1


def test_symlinks_back_up_the_tree_are_not_followed(tmp_path: Path) -> None:
    """Two links to the folder itself (a -> ., b -> .) end the walk at once: followed,
    they make it 2**40 folders long and the agent never starts."""
    (tmp_path / "policies" / "team").mkdir(parents=True)
    for name in ("a", "b"):
        (tmp_path / "policies" / name).symlink_to(".")
    code = (
        "from medic.engine.filewatch import FileWatch\n"
        f"print(FileWatch([{str(tmp_path / 'policies')!r}]).watched())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=20, check=False
    )
    assert (done.returncode, done.stdout) == (0, "2\n"), done.stderr


class _FullInotify:
    """libc whose inotify_add_watch fails as when fs.inotify.max_user_watches is reached."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def inotify_init1(self, flags: int) -> int:
        return int(self.real.inotify_init1(flags))

    def inotify_add_watch(self, fd: int, path: bytes, mask: int) -> int:
        ctypes.set_errno(errno.ENOSPC)
        return -1


def test_the_kernels_watch_limit_is_logged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past fs.inotify.max_user_watches a folder goes unwatched: said once, with the fix."""
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    real = ctypes.CDLL
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: _FullInotify(real(*a, **k)))
    with capture_logs() as logs, FileWatch([tmp_path]) as watch:
        assert watch.watched() == 0
    assert [e["event"] for e in logs] == ["policy.watch_limit"]
    assert "fs.inotify.max_user_watches" in logs[0]["hint"]
