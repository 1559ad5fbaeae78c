"""The ``file`` probe: does a file exist, how old and how big is it?

Made for the runbook lines "the nightly backup is there and fresh", "the spool is not
growing", "the lock file is not stale".

A ``stat`` on a local filesystem takes microseconds, so the probe ``runs_on_loop``. A
network filesystem can leave a ``stat`` blocked in the kernel for minutes, so the first
measurement always runs in a worker thread: it resolves the path's symbolic links and
looks up the filesystem it lies on (:mod:`medic.probes.system.mounts`); only a path on a
local filesystem is read on the event loop from then on.
"""

from __future__ import annotations

import glob
import os
import stat
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.system.mounts import on_local_filesystem

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

FIELDS = (
    Field("exists", "boolean", "The path (or, with glob, at least one match) exists."),
    Field("age", "number", "Seconds since the last modification (null if missing).", "seconds"),
    Field("size_bytes", "number", "Size (null if missing).", "bytes"),
    Field("is_dir", "boolean", "The path is a directory (null if missing)."),
    Field("mtime", "number", "Last modification, unix seconds (null if missing).", "seconds"),
    Field("count", "number", "Matching paths: with glob, how many; else 1 or 0."),
)
_MISSING: dict[str, Any] = {
    "exists": False,
    "age": None,
    "size_bytes": None,
    "is_dir": None,
    "mtime": None,
    "count": 0,
}
_GLOB_CHARS = frozenset("*?[")


@probes.register("file")
class FileProbe(Probe):
    """Existence, age and size of a file or directory.

    The target is ``path`` as written. With ``glob: true`` the path is a pattern
    (``/backups/db-*.dump``): the fields describe the newest match and ``count`` says
    how many there are. A missing file is a reading, not an error: ``exists`` is false
    and the other fields are null, so write ``not exists or age > ...``. Symbolic links
    are followed; an age is never negative, even for a file stamped in the future.

    ```yaml
    version: 1
    policies:
      - name: nightly-backup-stale
        description: Re-run the backup when last night's dump is missing or old.
        probe: {type: file, path: /var/backups/db-*.dump, glob: true, every: 10m}
        when: not exists or age > 26h
        remediate:
          - command: {argv: [systemctl, start, --no-block, db-backup.service], timeout: 30s}
        verify: {after: 2h}
        limits: {max: 1, per: 1d, cooldown: 6h}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "path": {"type": "string", "pattern": "^/", "description": "Absolute path."},
            "glob": {"type": "boolean", "description": "Treat path as a glob pattern."},
        },
        required=["path"],
    )
    fields = FIELDS
    default_every = 60.0
    runs_on_loop = True

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.path = str(options["path"])
        self.glob = bool(options.get("glob", False))
        self._busy = False
        # Whether the path lies on a local filesystem; None until a thread looked.
        self.local: bool | None = None

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        path = str(options.get("path", ""))
        if not options.get("glob") and _GLOB_CHARS.intersection(path):
            return [
                f"path {path!r} contains glob characters but glob is not set; "
                "add glob: true to match a pattern."
            ]
        return []

    async def measure(self) -> Measurement:
        if self._busy:
            raise ProbeError(
                f"the previous look at {self.path} is still blocked in the kernel",
                hint="the filesystem is not answering (stale network mount?)",
            )
        return {self.path: await asyncio.to_thread(self._measure)}

    def read(self) -> Measurement | None:
        """On the loop once a thread found the path on a local filesystem, else None."""
        if not self.local or self._busy:
            return None
        return {self.path: self._stat_now()}

    def _measure(self) -> dict[str, Any]:
        self._busy = True
        try:
            if self.local is None:
                self.local = on_local_filesystem(_fixed_part(self.path) if self.glob else self.path)
            return self._stat_now()
        finally:
            self._busy = False

    def _stat_now(self) -> dict[str, Any]:
        if not self.glob:
            st = _stat(self.path)
            return dict(_MISSING) if st is None else _describe(st, 1)
        newest: os.stat_result | None = None
        count = 0
        for match in glob.iglob(self.path):  # noqa: PTH207 - absolute patterns; Path.glob wants relative ones
            st = _stat(match)
            if st is None:
                continue  # vanished or a dangling link
            count += 1
            if newest is None or st.st_mtime > newest.st_mtime:
                newest = st
        return dict(_MISSING) if newest is None else _describe(newest, count)


def _fixed_part(pattern: str) -> str:
    """The directories of a glob pattern before its first wildcard."""
    fixed = []
    for part in pattern.split("/"):
        if _GLOB_CHARS.intersection(part):
            break
        fixed.append(part)
    return "/".join(fixed) or "/"


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)  # noqa: PTH116 - hot path: no Path object per call
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ProbeError(
            f"cannot read {path}: {exc.strerror}",
            hint="give Medic read access to the directory, or fix path",
        ) from exc


def _describe(st: os.stat_result, count: int) -> dict[str, Any]:
    return {
        "exists": True,
        "age": round(max(0.0, time.time() - st.st_mtime), 3),
        "size_bytes": st.st_size,
        "is_dir": stat.S_ISDIR(st.st_mode),
        "mtime": st.st_mtime,
        "count": count,
    }
