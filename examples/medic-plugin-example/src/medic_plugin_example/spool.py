"""The ``example.spool`` probe: the backlog of a spool directory, in one file."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, ClassVar

from medic.plugin import Field, Measurement, Probe, ProbeError, integer, options_schema, probes


@probes.register("example.spool")
class SpoolProbe(Probe):
    """Count the files waiting in a spool directory, and the age of the oldest.

    ```yaml
    version: 1
    policies:
      - name: outbox-backlog
        probe: {type: example.spool, path: /var/spool/outbox, every: 1m}
        when: files > 100 or oldest_age > 1h
        remediate:
          - example.sweep: {to: /var/spool/outbox.stuck, older_than: 1h}
        limits: {max: 1, per: 1h}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "path": {
                "type": "string",
                "pattern": "^/",
                "description": "Absolute path of the spool directory.",
            },
            "max_files": integer("Count at most this many files.", 1, 1_000_000, default=100_000),
        },
        required=["path"],
    )
    fields: ClassVar[tuple[Field, ...]] = (
        Field("exists", "boolean", "The directory exists."),
        Field("files", "number", "Regular files waiting in it (not in its subdirectories)."),
        Field("oldest_age", "number", "Age of the oldest file; 0 when it is empty.", "seconds"),
    )
    default_every = 60.0

    async def measure(self) -> Measurement:
        """One target, the directory: a listing is blocking I/O, so it runs in a thread."""
        path = str(self.options["path"])
        return {path: await asyncio.to_thread(self._count, path)}

    def _count(self, path: str) -> dict[str, Any]:
        limit = int(self.options.get("max_files", 100_000))
        now, files, oldest = time.time(), 0, None
        try:
            with os.scandir(path) as entries:
                for entry in entries:
                    if files >= limit:
                        break
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    try:
                        mtime = entry.stat(follow_symlinks=False).st_mtime
                    except FileNotFoundError:  # taken from the spool since it was listed
                        continue
                    files += 1
                    oldest = mtime if oldest is None else min(oldest, mtime)
        except FileNotFoundError:
            return {"exists": False, "files": 0, "oldest_age": 0.0}
        except OSError as exc:  # permission denied, not a directory: the probe cannot see
            raise ProbeError(f"cannot list {path}: {exc.strerror}") from exc
        age = max(0.0, now - oldest) if oldest is not None else 0.0
        return {"exists": True, "files": files, "oldest_age": round(age, 3)}
