"""One agent per state directory: an exclusive ``flock`` on ``<state_dir>/agent.lock``.

Two agents on one state directory would both act on every fault (each with its own
in-memory limits) and interleave two hash chains in one audit database. ``medic run``
takes this lock before the audit database is opened and holds it until the process
ends; the kernel drops it when the process dies, however it dies, so a stale file
never blocks a restart. The file holds the holder's pid, for the message the second
agent prints. Readers (``medic audit``, ``medic status``) never take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from medic.errors import MedicError

LOCK_NAME = "agent.lock"


class StateDirLocked(MedicError):
    """Another agent holds the state directory."""


class StateLock:
    """The held lock; :meth:`release` (or process exit) lets the next agent in."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: Path) -> StateLock:
        """Take the lock on ``state_dir`` at once, or raise :class:`StateDirLocked`
        naming the pid that holds it and the lock file."""
        path = Path(state_dir) / LOCK_NAME
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise MedicError(
                f"cannot open the state directory lock {path}: {exc.strerror}",
                hint="check that the state_dir exists and is writable by the agent's user",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(fd)
            os.close(fd)
            raise StateDirLocked(
                f"another medic agent (pid {holder}) is running on state dir {path.parent}:"
                f" it holds {path}",
                hint="stop that agent first, or give this one its own --state-dir",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def release(self) -> None:
        """Drop the lock (the file stays; its content no longer means anything)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor releases the flock


def _holder(fd: int) -> str:
    """The pid written by the holder, or ``unknown`` (it may not have written it yet)."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
