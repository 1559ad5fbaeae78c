"""How asyncio learns that a program Medic started has exited: a pidfd, not a thread.

On Python 3.11 asyncio's default child watcher starts a thread per child to block in
``waitpid``, and ``create_subprocess_exec`` waits for that thread to start: about a
millisecond on a busy host, on the path from a death noticed to the restart
exec'd. :class:`PidfdWatcher` instead opens a pidfd for the child and lets the
running loop's selector say when it exits, then reaps exactly that pid, so it
never takes the status of a process someone else waits for. It serves whichever
loop starts the child, so a program run from another loop or thread is watched too.
Where a pidfd cannot be had (an old kernel, no descriptors left) it falls back to
asyncio's thread per child.

Python 3.12 watches children with pidfds by itself and deprecates child watchers, so
:func:`install` does nothing there.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVarTuple, Unpack

Ts = TypeVarTuple("Ts")
# (loop, pidfd) per watched pid
_Watched = dict[int, tuple[asyncio.AbstractEventLoop, int]]


if sys.version_info < (3, 12):  # 3.12 watches with pidfds itself; 3.14 drops the API

    class PidfdWatcher(asyncio.AbstractChildWatcher):
        """Reap each child the moment its pidfd becomes readable, on the loop that started it."""

        def __init__(self) -> None:
            self._watched: _Watched = {}
            self._fallback = asyncio.ThreadedChildWatcher()

        def add_child_handler(
            self, pid: int, callback: Callable[[int, int, Unpack[Ts]], object], *args: *Ts
        ) -> None:
            """Call ``callback(pid, returncode, *args)`` on the running loop once ``pid`` exits."""
            loop = asyncio.get_running_loop()
            try:
                pidfd = os.pidfd_open(pid)
            except OSError:  # no pidfd here: a thread waits for this child instead
                self._fallback.add_child_handler(pid, callback, *args)
                return
            self._watched[pid] = (loop, pidfd)
            loop.add_reader(pidfd, self._reap, pid, callback, args)

        def _reap(self, pid: int, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
            if not self._forget(pid):
                return
            try:
                _, status = os.waitpid(pid, 0)  # it has exited: this does not block
                returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:  # reaped by someone else: asyncio's own convention
                returncode = 255
            callback(pid, returncode, *args)

        def _forget(self, pid: int) -> bool:
            watched = self._watched.pop(pid, None)
            if watched is None:
                return False
            loop, pidfd = watched
            if not loop.is_closed():
                loop.remove_reader(pidfd)
            os.close(pidfd)
            return True

        def remove_child_handler(self, pid: int) -> bool:
            return self._forget(pid) or self._fallback.remove_child_handler(pid)

        def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
            """Nothing to attach: each child is watched on the loop that started it."""

        def is_active(self) -> bool:
            return True

        def close(self) -> None:
            for pid in list(self._watched):
                self._forget(pid)
            self._fallback.close()

        def __enter__(self) -> PidfdWatcher:
            return self

        def __exit__(self, *exc: object) -> None:
            return None


_installed: list[asyncio.AbstractEventLoopPolicy] = []  # the policy it was set on


def install() -> None:
    """Make :class:`PidfdWatcher` asyncio's child watcher (once per event loop policy);
    cheap enough to call before every program run."""
    policy = asyncio.get_event_loop_policy()
    if sys.version_info >= (3, 12) or (_installed and _installed[0] is policy):
        return
    policy.set_child_watcher(PidfdWatcher())
    _installed[:] = [policy]
