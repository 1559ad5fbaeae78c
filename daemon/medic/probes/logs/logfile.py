"""The ``log`` probe: count new lines of a log file that match a pattern, in a recent window.

The file is followed across runs the way ``tail -F`` does, through rotation and
truncation (:mod:`medic.probes.logs.logfollow`). Each run stamps what it read with the time
it read it; ``match_count`` and ``lines`` add up the runs of the last ``window``. The
first run starts at the end of the file, so history already in the log is not counted
(``from_start: true`` counts it). A line is counted once its newline is written. At
most ``MAX_BYTES`` are read per run: a file that grew more than that is skipped ahead
to its end and the run says ``truncated``. ``path`` may be a glob: every matching file
is followed (:mod:`medic.probes.logs.logset`) and the counts add up over all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.clock import Clock, SystemClock
from medic.durations import parse_duration
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, probes
from medic.probes.logs.linewindow import (
    LineWindow,
    MatchWindowProbe,
    compiled,
    pattern_options,
    window_fields,
)
from medic.probes.logs.logfollow import MAX_BYTES, RunCount

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")


@probes.register("log")
class LogProbe(MatchWindowProbe):
    """Count new lines of a log file matching a regular expression within a recent window.

    The target is ``path``. Each run reads what was appended since the previous one,
    following the file across rotation (renamed and recreated: the rest of the old
    file is read first) and truncation (``copytruncate``: read again from the start),
    and ``match_count`` and ``lines`` count what the runs of the last ``window`` (default
    5m) read. The first run starts at the end of the file unless ``from_start`` is
    true. ``pattern`` is RE2 syntax (no lookaround or backreferences; docs/conditions.md).
    ``ignore_case`` (default true) matches letters in either case; lines longer
    than ``max_line`` bytes (default 4096) are cut before matching. A missing file is a
    reading (``file_exists`` false), not an error; at most 8 MiB are read per run.
    Each named group of ``pattern`` is a field too: ``(?P<ip>...)`` yields ``last_ip``,
    what it matched in the latest matching line of the window (docs/services.md).
    ``path`` may be a glob (``/var/log/app/*.log``): every matching file is followed
    with its own position (at most ``max_files``, default 50; compressed rotated files
    are skipped), a file that appears later is read from its start, and the counts add
    up over all of them.

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
      - name: ssh-brute-force
        description: Block the address behind a burst of failed SSH logins.
        probe:
          type: log
          path: /var/log/auth.log
          pattern: 'Failed password for .* from (?P<ip>[0-9.]+) port'
          window: 2m
        when: match_count > 20 and last_ip != null
        remediate:
          - command: {argv: [/usr/local/sbin/block-ip, "{last_ip}"], timeout: 10s}
        limits: {max: 5, per: 1h, cooldown: 1m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "path": {
                "type": "string",
                "pattern": "^/",
                "description": "Absolute path of the log, or a glob of several.",
            },
            "max_files": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000,
                "default": 50,
                "description": "A glob matching more files is a probe error (default 50).",
            },
            **pattern_options(
                "line",
                "Count the lines read within this span.",
                "5m",
                "Longer lines are cut to this many bytes before matching.",
            ),
            "from_start": {
                "type": "boolean",
                "default": False,
                "description": "Count what the file already holds on the first run.",
            },
        },
        required=["path", "pattern"],
    )
    fields: ClassVar[tuple[Field, ...]] = (
        *window_fields(
            "Lines read within the window that match pattern.",
            "Lines read within the window.",
            "The latest matching line in the window (500 chars max).",
        ),
        Field("file_exists", "boolean", "The file (with a glob: one of them) exists now."),
        Field("files", "number", "How many files are followed (1 without a glob)."),
        Field("rotated", "boolean", "This run saw the file rotated or truncated."),
        Field("truncated", "boolean", "This run found more than 8 MiB new and skipped ahead."),
    )
    default_every = 30.0
    default_timeout = 10.0
    max_bytes: int = MAX_BYTES

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.clock: Clock = SystemClock()
        self.path = str(options["path"])
        pattern = compiled(options)
        self.max_line = int(options.get("max_line", 4096))
        # Here, not at the top: `medic validate` loads the class, never runs it.
        from medic.probes.logs.logset import LogSet

        self.files = LogSet(self.path, pattern, self.max_line, int(options.get("max_files", 50)))
        self.from_start = bool(options.get("from_start", False))
        self.window = LineWindow(parse_duration(options.get("window", "5m")))
        self._busy = False

    async def measure(self) -> Measurement:
        if self._busy:
            raise ProbeError(
                f"the previous read of {self.path} is still blocked in the kernel",
                hint="the filesystem is not answering (stale network mount?)",
            )
        run = RunCount(t=self.clock.monotonic())
        files = await asyncio.to_thread(self._read, run)
        self.window.add(run)
        fields = {
            **self.window.fields(self.files.pattern, self.max_line),
            "file_exists": run.exists,
            "files": files,
            "rotated": run.rotated,
            "truncated": run.truncated,
        }
        return {self.path: fields}

    def _read(self, run: RunCount) -> int:
        # The flag lives in the thread: a run cut off by its timeout may still be reading.
        self._busy = True
        try:
            return self.files.read(run, self.from_start, self.max_bytes).files
        finally:
            self._busy = False

    async def close(self) -> None:
        self.files.close()
