"""Medic as a child subreaper, and the reaping of the orphans it adopts.

With ``PR_SET_CHILD_SUBREAPER`` set, a process that a step's program left behind is
re-parented to Medic when its parent dies (as it already is when Medic is PID 1 in a
container), so a timeout can still find and kill it (:mod:`medic.proctree`). Medic
must then reap such orphans itself, without ever taking the exit status of a child
that asyncio (or anything else in Medic) waits for. So only pids known to be orphans
are reaped, each with ``waitpid(pid, WNOHANG)``, never ``waitpid(-1)``:

- the processes killed at a step's timeout, other than the program itself;
- Medic's children whose environment carries a mark this Medic gave
  (``MEDIC_RUN``), other than programs :func:`medic.proc.run_process` still owns.

A sweep runs after every program run and then every few seconds while orphans are
known; a detached daemon a step started on purpose is reaped when it ends.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from medic import proctree
from medic.lazy import lazy_module

if TYPE_CHECKING:
    import asyncio
    import ctypes
else:
    ctypes = lazy_module("ctypes")
    asyncio = lazy_module("asyncio")

PR_SET_CHILD_SUBREAPER = 36
SWEEP_EVERY = 5.0
# Sweeps soon after a timeout's kill, when the killed processes are dying.
AFTER_KILL = (0.05, 0.25, 1.0)


class Reaper:
    """The orphans this process must reap, and the children it must leave alone."""

    def __init__(self) -> None:
        self.subreaper: bool | None = None
        # Orphans to reap: pid -> start time (a pid used again by another is not it).
        self.orphans: dict[int, int] = {}
        # Children run_process owns; asyncio reaps them.
        self.owned: set[int] = set()
        # The periodic sweep due, and the loop it is due on.
        self.timer: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None

    def become_subreaper(self) -> bool:
        """Make this process a child subreaper, once; False where the kernel refuses."""
        if self.subreaper is None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                self.subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                self.subreaper = False
        return self.subreaper

    def expect(self, killed: dict[int, int]) -> None:
        """Reap these killed processes once they are Medic's and dead."""
        self.orphans.update(killed)
        for delay in AFTER_KILL:
            self._later(delay)

    def sweep(self) -> None:
        """Adopt marked orphans among Medic's children; reap the ones that have exited."""
        me = os.getpid()
        for pid in proctree.children(me):
            if pid in self.orphans or pid in self.owned:
                continue
            info = proctree.stat(pid)
            if info is not None and proctree.is_ours(proctree.mark_of(pid)):
                self.orphans[pid] = info[2]
        for pid, started in list(self.orphans.items()):
            info = proctree.stat(pid)
            if info is None or info[2] != started:
                del self.orphans[pid]  # gone: reaped by its own parent
                continue
            state, parent, _ = info
            if parent == me and state in ("Z", "X") and pid not in self.owned:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                del self.orphans[pid]
        if self.orphans:
            self._later(SWEEP_EVERY)

    def _later(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        periodic = delay == SWEEP_EVERY
        due = self.timer
        if periodic and due is not None and due[0] is loop and due[1].when() > loop.time():
            return  # one periodic sweep is already due
        handle = loop.call_later(delay, self.sweep)
        if periodic:
            self.timer = (loop, handle)


REAPER = Reaper()
