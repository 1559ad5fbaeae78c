"""Following a growing log file across runs, the way ``tail -F`` does.

A :class:`LogFollower` keeps the file open and remembers its inode and how far it has
read. When logrotate renames the file and a new one appears, it first drains what the
writer added to the old file (through the descriptor it still holds), then switches to
the new file and reads it from the start. When the file shrinks below the offset
(``copytruncate``, ``truncate -s 0``), it starts again from the beginning. Both count
as ``rotated`` for that run. Lines are counted, and matched, once their newline is
written; a line longer than ``max_line`` is cut.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from medic.errors import ProbeError
from medic.patterns import Pattern
from medic.regular_file import NotRegularFileError, open_regular

MAX_BYTES = 8 * 1024 * 1024
CHUNK = 256 * 1024
LAST_MATCH_CHARS = 500
_NOT_LOG = "point path at a log file (a FIFO, a device or a socket is not one)"
_HINT = "give Medic read access to the file and its directory, or fix path"


@dataclass
class RunCount:
    """What one run read: when, how many lines, how many matched, the last match."""

    t: float
    lines: int = 0
    matches: int = 0
    last_match: str | None = None
    # The latest matching line whole (up to max_line), for its pattern's named groups.
    last_line: str | None = None
    rotated: bool = False
    truncated: bool = False
    exists: bool = False


class LogFollower:
    """The open file, its identity and offset, and the partial line read so far."""

    def __init__(self, path: str, pattern: Pattern, max_line: int) -> None:
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
            raise ProbeError(f"{self.path} is not a regular file", hint=_NOT_LOG)
        return st

    def _open(self, *, at_end: bool) -> None:
        try:  # non-blocking, and the opened file must be regular: a FIFO swapped in
            fd = open_regular(self.path)  # after the stat is refused, not waited on
        except FileNotFoundError:
            return  # rotated away between stat and open: the next run finds the new one
        except NotRegularFileError as exc:
            raise ProbeError(f"{self.path} is not a regular file", hint=_NOT_LOG) from exc
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
        if self.pattern.search(text, limit=self.max_line):
            run.matches += 1
            run.last_match = text[:LAST_MATCH_CHARS]
            run.last_line = text

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
