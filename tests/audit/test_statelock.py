"""One agent per state directory: the flock on ``agent.lock``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from medic.statelock import LOCK_NAME, StateDirLocked, StateLock


def test_a_second_holder_is_refused_naming_the_pid_and_the_file(tmp_path: Path) -> None:
    """While one lock is held, a second acquire fails at once with the pid and the path."""
    first = StateLock.acquire(tmp_path / "state")
    with pytest.raises(StateDirLocked) as caught:
        StateLock.acquire(tmp_path / "state")
    lock = tmp_path / "state" / LOCK_NAME
    assert caught.value.message == (
        f"another medic agent (pid {os.getpid()}) is running on state dir {lock.parent}:"
        f" it holds {lock}"
    )
    assert caught.value.hint == "stop that agent first, or give this one its own --state-dir"
    first.release()
    StateLock.acquire(tmp_path / "state").release()


def test_a_dead_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    """The kernel drops the lock with the process: a killed agent never blocks the next."""
    child = textwrap.dedent(
        """
        import os, sys
        from pathlib import Path
        from medic.statelock import StateLock
        StateLock.acquire(Path(sys.argv[1]))
        os.kill(os.getpid(), 9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", child, str(tmp_path)], check=False, timeout=30)
    assert proc.returncode == -9
    assert (tmp_path / LOCK_NAME).read_text().strip().isdigit()  # the stale pid is still there
    StateLock.acquire(tmp_path).release()


def test_an_unwritable_state_dir_says_so(tmp_path: Path) -> None:
    """A state_dir under a file is an error naming the lock path, not a traceback."""
    (tmp_path / "file").write_text("")
    with pytest.raises(Exception) as caught:
        StateLock.acquire(tmp_path / "file" / "state")
    assert str(caught.value).startswith(
        f"cannot open the state directory lock {tmp_path / 'file' / 'state' / LOCK_NAME}"
    )
