"""The process table as ``/proc`` shows it, read cheaply and shared by every process probe.

One listing of ``/proc`` (:class:`Snapshot`: pid, name, state and start time of each
process, command lines read on demand) serves every ``process`` probe in the agent
through :data:`TABLE`, so a thousand policies cost a few listings a second, not a
thousand. The readers open files directly, without ``Path`` objects or psutil: they
are the hot path.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class ProcEntry:
    """One line of the process table: what /proc/<pid>/stat says."""

    pid: int
    comm: str
    state: str
    start: int  # clock ticks after boot: with the pid, identifies the process
    cpu_ticks: int = 0  # user + system CPU, in clock ticks
    threads: int = 0
    rss_pages: int = 0  # resident pages, as statm's second field counts them

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_ticks / _CLOCK_TICKS

    @property
    def rss_bytes(self) -> int:
        return self.rss_pages * _PAGE_SIZE


_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK


def read_small(path: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of ``path`` (a /proc file gives its text in one read),
    or b"" when it cannot be read: three system calls and one bytes object, no file
    object, as this runs on the event loop for every process check."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return b""
    try:
        return os.read(fd, size)
    except OSError:
        return b""
    finally:
        os.close(fd)


def read_entry(pid: int) -> ProcEntry | None:
    """The stat line of ``pid``, or None when it is gone: one read gives the name,
    state and start time, and the CPU, threads and memory a process probe reports."""
    data = read_small(f"/proc/{pid}/stat")
    left, right = data.find(b"("), data.rfind(b")")
    if right < 0:  # gone (nothing read)
        return None
    rest = data[right + 2 :].split()
    # rest[0] is field 3 of proc(5): utime 14, stime 15, num_threads 20, start 22, rss 24
    return ProcEntry(
        pid,
        data[left + 1 : right].decode("utf-8", "replace"),
        rest[0].decode(),
        int(rest[19]),
        int(rest[11]) + int(rest[12]),
        int(rest[17]),
        int(rest[21]),
    )


def count_fds(pid: int) -> int | None:
    """Open descriptors of ``pid``; None when they are not ours to see (or it is gone)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))  # noqa: PTH208 - hot path
    except OSError:
        return None


def real_uid(pid: int) -> int | None:
    """The real uid of ``pid`` (its status file's ``Uid:`` line), None when it is gone."""
    data = read_small(f"/proc/{pid}/status")  # the Uid line is among the first ten
    at = data.find(b"\nUid:")
    return int(data[at + 5 :].split(None, 1)[0]) if at >= 0 else None


def read_argv(pid: int) -> list[str]:
    """The command line of ``pid`` (empty for kernel threads and vanished processes)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:  # noqa: PTH123 - hot path, as above
            data = f.read()
    except OSError:
        return []
    text = data.decode("utf-8", "replace")
    # A program that rewrote its title may leave one space-separated string.
    parts = text.rstrip("\0").split("\0") if "\0" in text.rstrip("\0") else text.split()
    return [p for p in parts if p] if text else []


@dataclass
class Snapshot:
    """One listing of /proc; command lines are read on first request."""

    taken: float
    entries: tuple[ProcEntry, ...]
    _argv: dict[int, list[str]] = field(default_factory=dict)

    def argv(self, pid: int) -> list[str]:
        if pid not in self._argv:
            self._argv[pid] = read_argv(pid)
        return self._argv[pid]


class ProcessTable:
    """The listing of /proc shared by every process probe, so a thousand policies cost
    a few listings a second, not a thousand. Called from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: Snapshot | None = None

    def snapshot(self, taken_after: float) -> Snapshot:
        """A listing started no earlier than ``taken_after`` (monotonic seconds)."""
        with self._lock:
            if self._current is None or self._current.taken < taken_after:
                taken = time.monotonic()
                entries = []
                for name in os.listdir("/proc"):  # noqa: PTH208 - hot path, no Path objects
                    if name.isdigit() and (entry := read_entry(int(name))) is not None:
                        entries.append(entry)
                self._current = Snapshot(taken, tuple(entries))
            return self._current


TABLE = ProcessTable()


def age(start_ticks: int) -> float:
    """Seconds since a process started, from boot-relative clock ticks (10 ms precise;
    psutil's create_time rests on a boot time rounded to the second)."""
    since_boot = float(read_small("/proc/uptime").split()[0])
    return round(max(0.0, since_boot - start_ticks / _CLOCK_TICKS), 2)
