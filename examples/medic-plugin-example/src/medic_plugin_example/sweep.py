"""The ``example.sweep`` action: move a spool's old files aside, in one file."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from medic.plugin import (
    Action,
    ActionContext,
    ActionError,
    ActionResult,
    actions,
    duration,
    format_duration,
    integer,
    options_schema,
    parse_duration,
)


@actions.register("example.sweep")
class SweepAction(Action):
    """Move the files older than ``older_than`` out of the target spool directory.

    The target is the directory the ``example.spool`` probe reported. Only regular
    files directly in it move (never symlinks, never subdirectories), into ``to``,
    which a person empties later: nothing is deleted, so a file whose name is already
    in ``to`` stays where it is.

    ```yaml
    version: 1
    policies:
      - name: outbox-backlog
        probe: {type: example.spool, path: /var/spool/outbox}
        when: oldest_age > 1h
        remediate:
          - example.sweep: {to: /var/spool/outbox.stuck, older_than: 1h, max_files: 500}
        limits: {max: 1, per: 1h}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "to": {
                "type": "string",
                "pattern": "^/",
                "description": "Absolute path of the folder the files move into.",
            },
            "older_than": duration("Move only files at least this old.", "1h"),
            "max_files": integer("Move at most this many files a run.", 1, 100_000, default=1000),
        },
        required=["to"],
    )
    default_timeout = 30.0

    def describe(self, ctx: ActionContext) -> str:
        age = format_duration(parse_duration(self.options.get("older_than", "1h")))
        return f"move files older than {age} from {ctx.target} to {self.options['to']}"

    async def run(self, ctx: ActionContext) -> ActionResult:
        if not ctx.target.startswith("/"):
            raise ActionError(f"target {ctx.target!r} is not an absolute directory path")
        moved = await asyncio.to_thread(self._sweep, Path(ctx.target), Path(self.options["to"]))
        summary = f"moved {moved} file(s) to {self.options['to']}"
        return ActionResult(ok=True, summary=summary, details={"moved": moved})

    def _sweep(self, source: Path, target: Path) -> int:
        cutoff = time.time() - parse_duration(self.options.get("older_than", "1h"))
        limit = int(self.options.get("max_files", 1000))
        target.mkdir(parents=True, exist_ok=True)
        moved = 0
        with os.scandir(source) as entries:
            for entry in entries:
                if moved >= limit:
                    break
                if not entry.is_file(follow_symlinks=False):
                    continue
                try:
                    if entry.stat(follow_symlinks=False).st_mtime > cutoff:
                        continue
                except FileNotFoundError:  # taken from the spool since it was listed
                    continue
                if os.path.lexists(target / entry.name):  # moving would overwrite it
                    continue
                try:  # a rename: ``to`` must be on the spool's filesystem
                    Path(entry.path).replace(target / entry.name)
                except OSError as exc:
                    raise ActionError(f"cannot move {entry.path}: {exc.strerror}") from exc
                moved += 1
        return moved
