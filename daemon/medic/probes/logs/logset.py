"""The files a ``log`` probe follows: one path, or every file a glob matches.

Each file gets its own :class:`~medic.probes.logs.logfollow.LogFollower` (its own offset,
rotation and truncation handling). The glob is matched again every run:

- a file that appears after the first run is new, so it is read from its start;
- a file whose inode is one the probe already follows or followed (``app.log`` renamed
  to ``app.log.1`` by logrotate, and ``*`` matching both) is not read again: its
  follower drained it through the descriptor it held, so it starts at its end;
- a file that stops matching is drained one last time and let go of;
- compressed files (``.gz``, ``.xz``, ``.bz2``, ``.zst``, ``.lz4``) are never read.

At most ``max_files`` files are followed: a glob that matches more is a probe error
naming the bound. The byte budget of a run is shared evenly between the files.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from medic.errors import ProbeError
from medic.patterns import Pattern
from medic.probes.logs.logfollow import LogFollower, RunCount

COMPRESSED = (".gz", ".xz", ".bz2", ".zst", ".lz4", ".z")


@dataclass
class SetRun:
    """What one run saw of the files, besides the lines: how many, whether any exists."""

    files: int = 0
    exists: bool = False


def is_glob(path: str) -> bool:
    return glob.has_magic(path)


class LogSet:
    """Followers by path, for one path or a glob."""

    def __init__(self, path: str, pattern: Pattern, max_line: int, max_files: int) -> None:
        self.path = path
        self.pattern = pattern
        self.max_line = max_line
        self.max_files = max_files
        self.followers: dict[str, LogFollower] = {}
        self.first_run = True
        # (dev, inode) of the files followed this run and the one before.
        self.seen: set[tuple[int, int]] = set()
        self.last: set[tuple[int, int]] = set()

    def _matches(self) -> list[str]:
        if not is_glob(self.path):
            return [self.path]
        found = sorted(
            p
            for p in glob.glob(self.path)  # noqa: PTH207 - absolute; Path.glob is relative
            if not p.lower().endswith(COMPRESSED) and Path(p).is_file()
        )
        if len(found) > self.max_files:
            raise ProbeError(
                f"{self.path} matches {len(found)} files, more than max_files ({self.max_files})",
                hint="narrow the glob (leave rotated files out: *.log, not *), or raise max_files",
            )
        return found

    def read(self, run: RunCount, from_start: bool, budget: int) -> SetRun:
        """Read what is new in every file into ``run`` (blocking: runs in a thread)."""
        paths = self._matches()
        share = max(1, budget // max(1, len(paths)))
        for gone in [p for p in self.followers if p not in paths]:
            follower = self.followers.pop(gone)
            follower.read(run, from_start, share)  # the writer's last words
            follower.close()
        out = SetRun()
        now: set[tuple[int, int]] = set()
        for path in paths:
            follower = self.followers.get(path) or self._new(path)
            # from_start applies to the files of the first run; later ones say themselves.
            follower.read(run, from_start and self.first_run, share)
            out.exists = out.exists or run.exists
            if follower.ident is not None:
                now.add(follower.ident)
            out.files += follower.fd is not None
        self.seen, self.last = self.last | now, now
        run.exists = out.exists
        self.first_run = False
        return out

    def _new(self, path: str) -> LogFollower:
        follower = LogFollower(path, self.pattern, self.max_line)
        self.followers[path] = follower
        if self.first_run:
            return follower  # at its end unless from_start, like a single file
        try:
            st = os.stat(path)  # noqa: PTH116 - one call, the identity only
        except OSError:
            st = None
        known = st is not None and (st.st_dev, st.st_ino) in self.seen
        # A file new since the first run is read whole; one already followed is not.
        follower.first_run = known
        return follower

    def close(self) -> None:
        for follower in self.followers.values():
            follower.close()
        self.followers.clear()
