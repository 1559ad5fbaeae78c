"""The ``process`` probe: is a program running, and how much does it use?

Two things make it fast enough to restart a dead daemon within milliseconds:

- ``watch()`` holds a pidfd per matched process; the kernel makes it readable the
  instant the process exits, so the policy is evaluated at once, not at the next poll.
- ``measure()`` selects processes from one listing of ``/proc`` shared by every
  process probe in the agent (:mod:`medic.probes.system.proctable`, at most
  ``SNAPSHOT_MAX_AGE`` old), and then re-reads only the few processes it matched. A
  match is confirmed against the live process, so a death is never hidden by a shared
  listing; a process started since the listing is found by the next one, and when
  nothing matches the probe lists ``/proc`` afresh before it reports "not running".

Every read is of kernel memory and takes microseconds, so the probe ``runs_on_loop``:
the engine calls ``read()`` on the event loop, with no hop to a worker thread.
"""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.bounds import ascii_int
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.logsetup import get_logger
from medic.option_schemas import options_schema
from medic.patterns import compile_pattern, pattern_problem
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.system.proctable import (
    TABLE,
    ProcEntry,
    Snapshot,
    age,
    count_fds,
    read_argv,
    read_entry,
    real_uid,
)
from medic.regular_file import read_pidfile

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

log = get_logger(__name__)

SNAPSHOT_MAX_AGE = 0.5
MAX_CMDLINE = 128 * 1024  # characters of a command line the cmdline pattern reads
SELECTORS = ("name", "cmdline", "pidfile")
_COMM_LEN = 15  # the kernel truncates process names to 15 bytes


FIELDS = (
    Field("running", "boolean", "At least one matching process is alive (zombies are dead)."),
    Field("count", "number", "Matching live processes."),
    Field("pids", "list", "Their process ids, ascending."),
    Field("rss_bytes", "number", "Resident memory, summed.", "bytes"),
    Field(
        "cpu_percent", "number", "CPU since the previous run, summed (100 = one CPU).", "percent"
    ),
    Field(
        "open_files",
        "number",
        "Open file descriptors, summed (null if not readable, or not read by the policy).",
    ),
    Field(
        "uptime",
        "number",
        "Age of the oldest matching process (null if none, or not read by the policy).",
        "seconds",
    ),
    Field("threads", "number", "Threads, summed."),
)


@probes.register("process")
class ProcessProbe(Probe):
    """Whether a program runs, and its memory, CPU, descriptors and threads.

    Select the processes with exactly one of ``name`` (the process name, exactly),
    ``cmdline`` (an RE2 regular expression searched in the space-joined command line,
    its first 128 KiB) or
    ``pidfile`` (the pid written in that file; one that is not a regular file, such
    as a FIFO, is a probe error); ``user`` narrows to one owner. The
    policy has one target, named by the selector, which exists even when nothing
    matches: that is how ``not running`` is seen. Zombies count as dead, and Medic
    never matches itself. ``cpu_percent`` covers the time since the policy's previous
    run (a process seen for the first time adds 0). A death is reported the moment it
    happens (pidfd), so the restart below starts within milliseconds, whatever
    ``every`` says.

    ```yaml
    version: 1
    policies:
      - name: nginx-down
        description: Restart nginx the moment its master process dies.
        probe: {type: process, name: nginx, every: 10s}
        when: not running
        remediate:
          - command: {argv: [systemctl, restart, nginx], timeout: 60s}
        verify: {after: 10s}
        limits: {max: 3, per: 1h, cooldown: 1m}
        escalate: {after_failures: 2, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "name": {"type": "string", "minLength": 1, "description": "Process name."},
            "cmdline": {
                "type": "string",
                "minLength": 1,
                "description": "RE2 regex searched in the command line (its first 128 KiB).",
            },
            "pidfile": {"type": "string", "pattern": "^/", "description": "File holding the pid."},
            "user": {"type": "string", "minLength": 1, "description": "Owner (name or uid)."},
        },
    )
    fields = FIELDS
    default_every = 10.0
    watches = True
    runs_on_loop = True

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.selector = next((s for s in SELECTORS if s in options), "name")
        self.target = str(options.get(self.selector, ""))
        self._pattern = compile_pattern(self.target) if self.selector == "cmdline" else None
        self._user: str | None = options.get("user")
        self._user_uid: int | None = None  # looked up once (NSS may be remote), then kept
        self._procs: dict[int, _Seen] = {}
        self._pids: list[int] = []
        self._pidfds: dict[int, int] = {}  # pid -> pidfd
        self._loop: asyncio.AbstractEventLoop | None = None
        self._died = asyncio.Event()

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        given = [s for s in SELECTORS if s in options]
        if len(given) != 1:
            found = f" (found: {', '.join(given)})" if given else ""
            return [f"give exactly one of name, cmdline or pidfile to select the process{found}."]
        if "cmdline" in options:
            problem = pattern_problem("cmdline", options["cmdline"])
            if problem is not None:
                return [f"{problem}. Escape special characters with a backslash."]
            if compile_pattern(options["cmdline"]).search(""):
                return [
                    f"cmdline {options['cmdline']!r} matches an empty command line, so it would "
                    "select every process; make the pattern more specific."
                ]
        return []

    def _wanted(self, entry: ProcEntry, argv: list[str]) -> bool:
        if entry.state in ("Z", "X") or entry.pid == os.getpid():
            return False
        if self.selector == "pidfile":
            return True
        if self._pattern is not None:
            return self._pattern.search(" ".join(argv), limit=MAX_CMDLINE)
        if entry.comm == self.target:
            return True
        # A name longer than the kernel keeps: compare the program named in argv[0].
        return (
            len(entry.comm) >= _COMM_LEN
            and self.target.startswith(entry.comm)
            and bool(argv)
            and argv[0].rsplit("/", 1)[-1] == self.target
        )

    def _matches(self, entry: ProcEntry, snapshot: Snapshot) -> bool:
        if self._pattern is None and not self.target.startswith(entry.comm):
            return False  # cheap rejection before any command line is read
        return self._wanted(entry, snapshot.argv(entry.pid) if self._needs_argv(entry) else [])

    def _needs_argv(self, entry: ProcEntry) -> bool:
        return self._pattern is not None or len(entry.comm) >= _COMM_LEN

    def _candidates(self, started: float) -> list[ProcEntry]:
        if self.selector == "pidfile":
            pid = _read_pidfile(self.target)
            entry = read_entry(pid) if pid else None
            return [entry] if entry and self._wanted(entry, []) else []
        snapshot = TABLE.snapshot(started - SNAPSHOT_MAX_AGE)
        confirmed = self._confirmed(snapshot)
        if not confirmed and snapshot.taken < started:
            # Never report "not running" from a listing older than this call.
            confirmed = self._confirmed(TABLE.snapshot(started))
        return confirmed

    def _confirmed(self, snapshot: Snapshot) -> list[ProcEntry]:
        """Matches in the listing that still match the live process."""
        confirmed = []
        for old in [e for e in snapshot.entries if self._matches(e, snapshot)]:
            entry = read_entry(old.pid)
            live_argv = read_argv(old.pid) if entry and self._needs_argv(entry) else []
            if entry and entry.start == old.start and self._wanted(entry, live_argv):
                confirmed.append(entry)
        return confirmed

    def _measure_sync(self) -> tuple[dict[str, Any], list[int]]:
        """Everything comes from the stat line each matched process was confirmed
        with; only descriptors, owner and uptime cost a read more, and only when the
        policy reads them (or names a user)."""
        if self._user and self._user_uid is None:
            self._user_uid = _uid(self._user)
        uid = self._user_uid
        want_fds, want_uptime = self.reads("open_files"), self.reads("uptime")
        kept: dict[int, _Seen] = {}
        rss, cpu, threads, fds, starts = 0, 0.0, 0, 0, []
        fds_known = True
        now = time.monotonic()
        for entry in self._candidates(now):
            if uid is not None and real_uid(entry.pid) != uid:
                continue
            seen = self._procs.get(entry.pid)
            if seen is None or seen.start != entry.start:
                seen = _Seen(entry.start)
            if want_fds:
                count = count_fds(entry.pid)
                if count is None:
                    fds_known = False
                else:
                    fds += count
            rss += entry.rss_bytes
            cpu += seen.cpu_since(entry.cpu_seconds, now)
            threads += entry.threads
            kept[entry.pid] = seen
            starts.append(entry.start)
        self._procs = kept
        pids = sorted(kept)
        return {
            "running": bool(pids),
            "count": len(pids),
            "pids": pids,
            "rss_bytes": rss,
            "cpu_percent": round(cpu, 2),
            "open_files": fds if fds_known and want_fds else None,
            "uptime": age(min(starts)) if starts and want_uptime else None,
            "threads": threads,
        }, pids

    def read(self) -> Measurement:
        """Measure on the event loop (every read is of /proc, in memory)."""
        fields, self._pids = self._measure_sync()
        if self._loop is not None:
            self._sync_pidfds()
        return {self.target: fields}

    async def measure(self) -> Measurement:
        fields, self._pids = await asyncio.to_thread(self._measure_sync)
        if self._loop is not None:
            self._sync_pidfds()
        return {self.target: fields}

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield the target the moment a matched process exits."""
        self._loop = asyncio.get_running_loop()
        self._sync_pidfds()
        try:
            while True:
                await self._died.wait()
                self._died.clear()
                yield self.target
        finally:
            self._close_pidfds()
            self._loop = None

    def _sync_pidfds(self) -> None:
        """Hold a pidfd for exactly the pids of the last measurement."""
        assert self._loop is not None
        wanted = set(self._pids)
        for pid in [p for p in self._pidfds if p not in wanted]:
            self._drop(pid)
        for pid in wanted.difference(self._pidfds):
            try:
                fd = os.pidfd_open(pid)
            except ProcessLookupError:
                self._died.set()  # gone between the measurement and now
                continue
            except OSError as exc:  # out of descriptors: polling still covers it
                log.warning("probe.pidfd_open_failed", pid=pid, error=exc.strerror)
                continue
            self._pidfds[pid] = fd
            self._loop.add_reader(fd, self._exited, pid)

    def _exited(self, pid: int) -> None:
        self._drop(pid)
        self._died.set()

    def _drop(self, pid: int) -> None:
        fd = self._pidfds.pop(pid, None)
        if fd is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(fd)
        os.close(fd)

    def _close_pidfds(self) -> None:
        for pid in list(self._pidfds):
            self._drop(pid)

    async def close(self) -> None:
        self._close_pidfds()
        self._procs.clear()


class _Seen:
    """A matched process as the previous run saw it: its start time, and its CPU
    seconds then (None the first time)."""

    __slots__ = ("at", "cpu", "start")

    def __init__(self, start: int) -> None:
        self.start = start
        self.cpu: float | None = None
        self.at = 0.0

    def cpu_since(self, total: float, now: float) -> float:
        """CPU percent (100 = one CPU) since the previous call; 0 the first time."""
        before, at = self.cpu, self.at
        self.cpu, self.at = total, now
        if before is None or now <= at:
            return 0.0
        return max(0.0, (total - before) / (now - at) * 100.0)


def _read_pidfile(path: str) -> int | None:
    """The pid in ``path``, None when the file is missing or holds no pid."""
    try:
        pid, _ = read_pidfile(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProbeError(
            f"cannot read pidfile {path}: {exc.strerror}",
            hint="point pidfile at the file the service writes its pid into",
        ) from exc
    return pid if pid is not None and pid > 0 else None


def _uid(user: str) -> int:
    if (uid := ascii_int(user, max_digits=10)) is not None:
        return uid
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:
        raise ProbeError(
            f"user {user!r} does not exist on this host", hint="fix user in the probe options"
        ) from None
