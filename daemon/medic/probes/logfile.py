"""The ``log`` probe: count new lines of a log file that match a pattern, in a recent window.

It follows the file the way ``tail -F`` does, across runs: it keeps the file open and
remembers its inode and how far it has read. When logrotate renames the file and a new
one appears, the probe first drains what the writer added to the old file (through the
descriptor it still holds), then switches to the new file and reads it from the start.
When the file shrinks below the offset (``copytruncate``, ``truncate -s 0``), it starts
again from the beginning. Both count as ``rotated`` for that run.

Each run stamps what it read with the time it read it; ``match_count`` and ``lines`` add up
the runs of the last ``window``. The first run starts at the end of the file, so
history already in the log is not counted (``from_start: true`` counts it). A line is
counted once its newline is written. At most ``MAX_BYTES`` are read per run: a file
that grew more than that is skipped ahead to its end and the run says ``truncated``.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from medic.clock import Clock, SystemClock
from medic.errors import ProbeError
from medic.policy.durations import DurationError, parse_duration
from medic.policy.schema import duration
from medic.probes.base import Field, Measurement, Probe, probes

MAX_BYTES = 8 * 1024 * 1024
CHUNK = 256 * 1024
LAST_MATCH_CHARS = 500
MAX_RUNS = 100_000
_HINT = "give Medic read access to the file and its directory, or fix path"


@dataclass
class RunCount:
    """What one run read: when, how many lines, how many matched, the last match."""

    t: float
    lines: int = 0
    matches: int = 0
    last_match: str | None = None
    rotated: bool = False
    truncated: bool = False
    exists: bool = False


class LogFollower:
    """The open file, its identity and offset, and the partial line read so far."""

    def __init__(self, path: str, pattern: re.Pattern[str], max_line: int) -> None:
        self.path = path
        self.pattern = pattern
        self.max_line = max_line
        self.fd: int | None = None
        self.ident: tuple[int, int] | None = None
        self.offset = 0
        self.pending = b""
        self.discard = False  # after skipping ahead: drop the rest of a cut line
        self.first_run = True

    def read(self, run: RunCount, from_start: bool, budget: int = MAX_BYTES) -> None:
        """Read what is new since the last run into ``run`` (blocking: runs in a thread)."""
        st = self._stat()
        run.exists = st is not None
        if self.fd is not None:
            if st is None or (st.st_dev, st.st_ino) != self.ident:
                budget -= self._drain(run, budget)  # the writer's last words to the old file
                if st is not None:
                    self._flush(run)
                    self.close()
                    run.rotated = True
            elif os.fstat(self.fd).st_size < self.offset:
                self._flush(run)
                self.offset, self.discard = 0, False
                run.rotated = True
        if self.fd is None and st is not None:
            self._open(at_end=self.first_run and not from_start)
        self.first_run = False
        if self.fd is not None:
            budget -= self._drain(run, budget)
            if budget <= 0:
                self._skip_to_end(run)

    def _stat(self) -> os.stat_result | None:
        try:
            st = Path(self.path).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise ProbeError(f"cannot read {self.path}: {exc.strerror}", hint=_HINT) from exc
        if not stat.S_ISREG(st.st_mode):
            raise ProbeError(f"{self.path} is not a regular file", hint="point path at a log file")
        return st

    def _open(self, *, at_end: bool) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # rotated away between stat and open: the next run finds the new one
        except OSError as exc:
            raise ProbeError(f"cannot open {self.path}: {exc.strerror}", hint=_HINT) from exc
        st = os.fstat(fd)
        self.fd, self.ident = fd, (st.st_dev, st.st_ino)
        self.offset = st.st_size if at_end else 0
        self.pending, self.discard = b"", False

    def _drain(self, run: RunCount, budget: int) -> int:
        """Read from the offset to the end of the open file, at most ``budget`` bytes."""
        assert self.fd is not None
        done = 0
        while done < budget:
            chunk = os.pread(self.fd, min(CHUNK, budget - done), self.offset)
            if not chunk:
                break
            self.offset += len(chunk)
            done += len(chunk)
            self._feed(run, chunk)
        return done

    def _feed(self, run: RunCount, chunk: bytes) -> None:
        *complete, rest = chunk.split(b"\n")
        for index, piece in enumerate(complete):
            line = self.pending + piece[: self.max_line] if index == 0 else piece
            self.pending = b""
            if index == 0 and self.discard:
                self.discard = False
                continue
            self._count(run, line)
        if complete:
            self.pending = rest[: self.max_line]
        elif not self.discard:
            self.pending = (self.pending + rest)[: self.max_line]

    def _count(self, run: RunCount, raw: bytes) -> None:
        text = raw[: self.max_line].decode("utf-8", "replace").rstrip("\r")
        run.lines += 1
        if self.pattern.search(text):
            run.matches += 1
            run.last_match = text[:LAST_MATCH_CHARS]

    def _flush(self, run: RunCount) -> None:
        """The file is done with: its last line, even without a newline, counts."""
        if self.pending and not self.discard:
            self._count(run, self.pending)
        self.pending, self.discard = b"", False

    def _skip_to_end(self, run: RunCount) -> None:
        assert self.fd is not None
        size = os.fstat(self.fd).st_size
        if size <= self.offset:
            return
        run.truncated = True
        self.offset = size
        # Unless the skip lands just after a newline, the next bytes end a cut line.
        self.pending = b""
        self.discard = os.pread(self.fd, 1, size - 1) != b"\n"

    def close(self) -> None:
        """Let go of the file."""
        if self.fd is not None:
            os.close(self.fd)
        self.fd, self.ident = None, None


@probes.register("log")
class LogProbe(Probe):
    """Count new lines of a log file matching a regular expression within a recent window.

    The target is ``path``. Each run reads what was appended since the previous one,
    following the file across rotation (renamed and recreated: the rest of the old
    file is read first) and truncation (``copytruncate``: read again from the start),
    and ``match_count`` and ``lines`` count what the runs of the last ``window`` (default
    5m) read. The first run starts at the end of the file unless ``from_start`` is
    true. ``ignore_case`` (default true) matches letters in either case; lines longer
    than ``max_line`` bytes (default 4096) are cut before matching. A missing file is a
    reading (``file_exists`` false), not an error; at most 8 MiB are read per run.

    ```yaml
    version: 1
    policies:
      - name: app-error-burst
        description: Page when the application logs a burst of errors.
        probe:
          type: log
          path: /var/log/app/app.log
          pattern: '\\b(ERROR|FATAL)\\b'
          ignore_case: false
          window: 5m
          every: 30s
        when: match_count >= 20
        escalate: {notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "path": {"type": "string", "pattern": "^/", "description": "Absolute path of the log."},
            "pattern": {
                "type": "string",
                "minLength": 1,
                "description": "Regular expression (Python syntax) a line must contain.",
            },
            "window": duration("Count the lines read within this span.", "5m"),
            "ignore_case": {
                "type": "boolean",
                "default": True,
                "description": "Match letters in either case (default true).",
            },
            "max_line": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1048576,
                "default": 4096,
                "description": "Longer lines are cut to this many bytes before matching.",
            },
            "from_start": {
                "type": "boolean",
                "default": False,
                "description": "Count what the file already holds on the first run.",
            },
        },
        "required": ["path", "pattern"],
        "additionalProperties": False,
    }
    fields: ClassVar[tuple[Field, ...]] = (
        Field("match_count", "number", "Lines read within the window that match pattern."),
        Field("lines", "number", "Lines read within the window."),
        Field("last_match", "string", "The latest matching line in the window (500 chars max)."),
        Field("file_exists", "boolean", "The file exists now."),
        Field("rotated", "boolean", "This run saw the file rotated or truncated."),
        Field("truncated", "boolean", "This run found more than 8 MiB new and skipped ahead."),
    )
    default_every = 30.0
    default_timeout = 10.0
    max_bytes: int = MAX_BYTES

    def __init__(self, options: Mapping[str, Any]) -> None:
        super().__init__(options)
        self.clock: Clock = SystemClock()
        self.path = str(options["path"])
        flags = re.IGNORECASE if options.get("ignore_case", True) else 0
        pattern = re.compile(str(options["pattern"]), flags)
        self.follower = LogFollower(self.path, pattern, int(options.get("max_line", 4096)))
        self.from_start = bool(options.get("from_start", False))
        self.window = parse_duration(options.get("window", "5m"))
        self.runs: deque[RunCount] = deque(maxlen=MAX_RUNS)
        self._busy = False

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        try:
            re.compile(str(options.get("pattern", "")))
        except re.error as exc:
            problems.append(f"pattern is not a valid regular expression: {exc}")
        try:
            if parse_duration(options.get("window", "5m")) <= 0:
                problems.append("window must be longer than 0s.")
        except DurationError as exc:
            problems.append(f"window: {exc}")
        return problems

    async def measure(self) -> Measurement:
        if self._busy:
            raise ProbeError(
                f"the previous read of {self.path} is still blocked in the kernel",
                hint="the filesystem is not answering (stale network mount?)",
            )
        run = RunCount(t=self.clock.monotonic())
        await asyncio.to_thread(self._read, run)
        self.runs.append(run)
        start = run.t - self.window
        while self.runs and self.runs[0].t <= start:
            self.runs.popleft()
        last = next((r.last_match for r in reversed(self.runs) if r.last_match is not None), None)
        fields = {
            "match_count": sum(r.matches for r in self.runs),
            "lines": sum(r.lines for r in self.runs),
            "last_match": last,
            "file_exists": run.exists,
            "rotated": run.rotated,
            "truncated": run.truncated,
        }
        return {self.path: fields}

    def _read(self, run: RunCount) -> None:
        # The flag lives in the thread: a run cut off by its timeout may still be reading.
        self._busy = True
        try:
            self.follower.read(run, self.from_start, self.max_bytes)
        finally:
            self._busy = False

    async def close(self) -> None:
        self.follower.close()
