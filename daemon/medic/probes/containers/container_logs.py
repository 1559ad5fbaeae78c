"""The ``container.logs`` probe: count log lines matching a pattern in a recent window.

It reads each selected container's log (stdout and stderr) since ``window`` ago and
counts lines matching ``pattern``, streaming, so memory stays small whatever the log
holds. At most ``MAX_BYTES`` are read per container and run: a container that logs more
in the window is reported with ``truncated: true`` and counts from what was read. The
pattern runs on RE2 (:mod:`medic.patterns`) over the first ``MAX_LINE`` characters of a line.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from medic.drivers.docker import HINT, engine_errors, shared_client, unreachable
from medic.durations import parse_duration
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.logsetup import get_logger
from medic.option_schemas import options_schema
from medic.patterns import Pattern
from medic.probes.base import Field, Measurement, probes
from medic.probes.commands.capture import captured
from medic.probes.containers.container_select import (
    SELECTION_PROPERTIES,
    Selection,
    primary_name,
    select_containers,
    validate_selection,
)
from medic.probes.logs.linewindow import MatchWindowProbe, compiled, pattern_options, window_fields

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

log = get_logger(__name__)

MAX_BYTES = 8 * 1024 * 1024
MAX_LINE = 64 * 1024  # characters of one line the pattern reads
LAST_MATCH_CHARS = 500
CONCURRENCY = 4


@dataclass
class LogCount:
    """What one read of one container's log found."""

    match_count: int = 0
    lines: int = 0
    last_match: str | None = None
    truncated: bool = False
    last_line: str | None = None  # whole (to MAX_LINE), for the pattern's named groups
    captures: dict[str, str | None] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {
            "match_count": self.match_count,
            "lines": self.lines,
            "last_match": self.last_match,
            "truncated": self.truncated,
            **self.captures,
        }


def count_lines(chunks: Iterable[bytes], pattern: Pattern, max_bytes: int) -> LogCount:
    """Count lines (and matching lines) in a stream of byte chunks, reading ``max_bytes``."""
    found = LogCount()
    pending = b""
    read = 0

    def take(raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        found.lines += 1
        if pattern.search(line, limit=MAX_LINE):
            found.match_count += 1
            found.last_match = line[:LAST_MATCH_CHARS]
            found.last_line = line[:MAX_LINE]

    for chunk in chunks:
        if read + len(chunk) > max_bytes:
            chunk = chunk[: max_bytes - read]  # noqa: PLW2901 - the cut is the point
            found.truncated = True
        read += len(chunk)
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            take(raw)
        if found.truncated:
            break  # a partial last line is not counted
    else:
        if pending:
            take(pending)
    found.captures = captured(pattern, found.last_line, MAX_LINE)
    found.last_line = None
    return found


@probes.register("container.logs")
class ContainerLogsProbe(MatchWindowProbe):
    """Count recent log lines of Docker containers that match a regular expression.

    Selects containers like the ``container`` probe (``name``, ``id``, ``labels``,
    ``compose`` or ``opt_in_label``) and reads what each logged in the last ``window``
    (default 1h). ``ignore_case`` (default true) makes ``pattern`` match either case.
    ``pattern`` is RE2 syntax (no lookaround or backreferences) and reads the first
    64 KiB of each line. Each named group of ``pattern`` is a field too:
    ``(?P<code>...)`` yields ``last_code``, what it matched in the latest matching line.

    ```yaml
    version: 1
    policies:
      - name: api-database-errors
        description: Restart the api container when it keeps losing its database.
        probe:
          type: container.logs
          compose: {project: shop, service: api}
          pattern: "database connection (lost|refused)"
          window: 5m
          every: 1m
        when: match_count >= 10
        remediate:
          - container.restart: {stop_timeout: 20, timeout: 60s}
        verify: {after: 5m}
        limits: {max: 2, per: 1h, cooldown: 15m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            **SELECTION_PROPERTIES,
            **pattern_options("line", "How far back to read the log.", "1h"),
        },
        required=["pattern"],
    )
    fields: ClassVar[tuple[Field, ...]] = (
        *window_fields(
            "Lines in the window that match pattern.",
            "Lines read in the window.",
            "The last matching line (500 characters at most).",
        ),
        Field("truncated", "boolean", "The window held more than 8 MiB; counts are partial."),
    )
    default_window = "1h"
    empty_window = True
    default_every = 60.0
    default_timeout = 20.0
    max_bytes: int = MAX_BYTES

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.selection = Selection.from_options(options)
        self.pattern = compiled(options)
        self.window = parse_duration(options.get("window", "1h"))

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        return [*validate_selection(options), *super().validate(options)]

    async def measure(self) -> Measurement:
        try:
            client = await shared_client()
            summaries = await select_containers(client, self.selection)
        except engine_errors() as exc:
            raise ProbeError(unreachable(exc), hint=HINT) from exc
        since = max(1.0, round(time.time() - self.window, 3))
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(summary: Mapping[str, Any]) -> tuple[str, LogCount | None]:
            async with limit:
                found = await asyncio.to_thread(self._read, client, summary["Id"], since)
            return primary_name(summary), found

        results = await asyncio.gather(*(one(s) for s in summaries))
        return {name: found.fields() for name, found in results if found is not None}

    def _read(self, client: Any, container_id: str, since: float) -> LogCount | None:
        """Read and count one container's log (blocking: runs in a thread)."""
        from docker.errors import APIError, NotFound

        try:
            stream = client.api.logs(
                container_id, stdout=True, stderr=True, stream=True, follow=False,
                since=since, timestamps=False,
            )  # fmt: skip
        except NotFound:
            return None
        except APIError as exc:  # e.g. a log driver that cannot be read back
            log.warning("container.logs_unreadable", container=container_id[:12], error=str(exc))
            return None
        except engine_errors() as exc:
            raise ProbeError(unreachable(exc), hint=HINT) from exc
        try:
            return count_lines(stream, self.pattern, self.max_bytes)
        finally:
            stream.close()
