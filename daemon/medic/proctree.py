"""Finding everything a program Medic started has started, wherever it went, and killing it.

Every program Medic runs carries a mark in its environment (``MEDIC_RUN=<id>``), which
its children inherit. Medic is a child subreaper (:mod:`medic.reaper`), so a process
that leaves its parent (a double fork) is re-parented to Medic, not to init: every
descendant stays in Medic's own process tree. A step's processes are then the tree
under the program plus every process under Medic that carries the step's mark (one
that called ``setsid`` and whose parent died). Only read at a timeout: never on the
path that starts a program.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
from pathlib import Path

RUN_MARK = "MEDIC_RUN"
# Unique to this Medic process, so a mark inherited from elsewhere is never mistaken.
_PREFIX = f"{os.getpid()}.{secrets.token_hex(4)}."
_serial = itertools.count(1)
# Stop-and-look rounds at a timeout; each round catches what forked during the last.
_ROUNDS = 10


def new_mark() -> str:
    """A fresh mark for one program run."""
    return f"{_PREFIX}{next(_serial)}"


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (every thread's), [] when it is gone."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of ``pid`` from /proc, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[19])


def mark_of(pid: int) -> str | None:
    """The run mark in ``pid``'s environment, if any (None for a zombie or a stranger)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    key = RUN_MARK.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(key):
            return entry[len(key) :].decode("ascii", "replace")
    return None


def is_ours(mark: str | None) -> bool:
    """Whether ``mark`` was given by this Medic process."""
    return mark is not None and mark.startswith(_PREFIX)


def step_processes(root: int, mark: str) -> set[int]:
    """Every live process of one run: ``root``'s tree, and marked trees under Medic."""
    found: set[int] = set()
    todo = [(pid, False) for pid in children(os.getpid())]
    while todo:
        pid, inherited = todo.pop()
        hit = inherited or pid == root or mark_of(pid) == mark
        if hit:
            found.add(pid)
        todo.extend((child, hit) for child in children(pid))
    return found


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def kill_step(root: int, mark: str) -> dict[int, int]:
    """SIGKILL ``root``'s group and every process of the run; returns {pid: start time}.

    Processes are stopped first and looked for again until no new one turns up, so a
    program forking as fast as it can cannot outrun the kill.
    """
    stopped: dict[int, int] = {}
    for _ in range(_ROUNDS):
        new = [pid for pid in step_processes(root, mark) if pid not in stopped]
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
            if (info := stat(pid)) is not None:
                stopped[pid] = info[2]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(root, signal.SIGKILL)
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    return stopped
