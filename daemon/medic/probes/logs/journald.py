"""The ``journald`` probe: count new journal entries that match a pattern, in a recent window.

Each run asks ``journalctl`` (JSON output) for the entries after the cursor of the last
one it read and keeps the new cursor in the agent's state directory
(:mod:`medic.probes.probestate`), so a restart of the agent neither reads an entry
twice nor skips one. Without a cursor (the first run ever, or the journal refused it)
it reads from the second the probe started. At most ``MAX_BYTES`` of output are read
per run: past that the probe skips ahead to the newest entry and says ``truncated``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.clock import Clock, SystemClock
from medic.durations import parse_duration
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, probes
from medic.probes.logs.journal_read import (
    PRIORITIES,
    Entry,
    Selection,
    journal_argv,
    last_cursor,
    latest_argv,
    parse_entries,
)
from medic.probes.logs.linewindow import (
    LineWindow,
    MatchWindowProbe,
    compiled,
    pattern_options,
    window_fields,
)
from medic.probes.logs.logfollow import LAST_MATCH_CHARS, RunCount
from medic.probes.probestate import StateFile, state_file

if TYPE_CHECKING:
    import shutil
else:
    shutil = lazy_module("shutil")

MAX_BYTES = 8 * 1024 * 1024
_HINT = "install systemd's journalctl, or run Medic where the journal is"


@probes.register("journald")
class JournaldProbe(MatchWindowProbe):
    """Count new journal entries of a unit matching a regular expression within a window.

    Select entries with ``unit`` (a systemd unit, as ``journalctl --unit``),
    ``identifier`` (the syslog identifier, as ``journalctl --identifier``) and
    ``priority`` (that priority and more severe: ``err`` reads emerg to err); given
    together they must all hold. ``directory`` reads a journal folder instead of the
    system's (a container's, a copy). The target is the unit, else the identifier,
    else ``journal``. ``match_count`` and ``lines`` count what the runs of the last
    ``window`` (default 5m) read; ``pattern`` is RE2 syntax matched against
    ``MESSAGE``, and each named group yields ``last_<group>`` like the ``log`` probe.
    The cursor is kept in the agent's state_dir, so a restart neither rereads nor
    skips entries (docs/services.md).

    ```yaml
    version: 1
    policies:
      - name: xray-panics
        description: Restart the node when its journal shows a panic.
        probe:
          type: journald
          unit: xray.service
          pattern: 'panic: (?P<reason>.*)'
          priority: err
          window: 10m
          every: 30s
        when: match_count >= 1
        remediate:
          - systemd.restart: {unit: xray.service, timeout: 60s}
        limits: {max: 2, per: 1h, cooldown: 5m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "unit": {
                "type": "string",
                "pattern": "^[A-Za-z0-9:_.@\\\\-]+$",
                "maxLength": 256,
                "description": "Entries of this systemd unit (journalctl --unit).",
            },
            "identifier": {
                "type": "string",
                "pattern": "^[A-Za-z0-9:_.@/\\\\-]+$",
                "maxLength": 256,
                "description": "Entries with this syslog identifier (journalctl --identifier).",
            },
            "priority": {
                "enum": list(PRIORITIES),
                "description": "Only entries of this priority or more severe.",
            },
            "directory": {
                "type": "string",
                "pattern": "^/",
                "description": "Read the journal files in this folder instead of the system's.",
            },
            **pattern_options(
                "message",
                "Count the entries read within this span.",
                "5m",
                "Longer messages are cut to this many bytes before matching.",
            ),
        },
        required=["pattern"],
    )
    fields: ClassVar[tuple[Field, ...]] = (
        *window_fields(
            "Entries read within the window that match pattern.",
            "Entries read within the window.",
            "The latest matching message in the window (500 chars).",
        ),
        Field("truncated", "boolean", "This run found more than 8 MiB new and skipped ahead."),
    )
    default_every = 30.0
    default_timeout = 10.0
    max_bytes: int = MAX_BYTES

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.clock: Clock = SystemClock()
        self.selection = Selection(
            unit=options.get("unit"),
            identifier=options.get("identifier"),
            priority=options.get("priority"),
            directory=options.get("directory"),
        )
        self.pattern = compiled(options)
        self.max_line = int(options.get("max_line", 4096))
        self.window = LineWindow(parse_duration(options.get("window", "5m")))
        self.state: StateFile | None = state_file("journald", options)
        self.cursor: str | None = None
        self.since: int | None = None
        self._loaded = False

    async def measure(self) -> Measurement:
        self._load()
        run = RunCount(t=self.clock.monotonic(), exists=True)
        entries, complete = await self._entries()
        for entry in entries:
            self._count(run, entry)
        cursor = last_cursor(entries)
        if not complete:
            run.truncated = True
            cursor = await self._newest() or cursor
        if cursor is not None and cursor != self.cursor:
            self.cursor = cursor
            self._save()
        self.window.add(run)
        fields = self.window.fields(self.pattern, self.max_line)
        return {self.selection.target: {**fields, "truncated": run.truncated}}

    def _load(self) -> None:
        """The kept cursor (or start time) on the first run; else start now."""
        if self._loaded:
            return
        self._loaded = True
        kept = self.state.load() if self.state is not None else None
        if isinstance(kept, dict):
            cursor, since = kept.get("cursor"), kept.get("since")
            self.cursor = cursor if isinstance(cursor, str) and cursor else None
            self.since = since if isinstance(since, int) else None
        if self.cursor is None and self.since is None:
            self.since = int(time.time())
            self._save()

    def _save(self) -> None:
        if self.state is not None:
            self.state.save({"cursor": self.cursor, "since": self.since})

    async def _journalctl(self, argv: list[str], cap: int | None = None) -> tuple[str, bool]:
        # Here, not at the top: `medic validate` loads the class, never runs it.
        from medic.proc import run_process

        timeout = self.timeout
        done = await run_process(argv, timeout=timeout, max_output=cap or self.max_bytes)
        if done.timed_out:
            raise ProbeError(f"journalctl did not finish within {timeout:g}s", hint=_HINT)
        if done.exit_code != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise ProbeError(f"journalctl failed (exit {done.exit_code}): {first}", hint=_HINT)
        return done.stdout, done.truncated

    async def _entries(self) -> tuple[list[Entry], bool]:
        binary = _binary()
        argv = journal_argv(binary, self.selection, cursor=self.cursor, since=self.since)
        try:
            text, cut = await self._journalctl(argv)
        except ProbeError as exc:
            if self.cursor is None or "cursor" not in exc.message:
                raise
            # A cursor the journal no longer knows (another machine's, a damaged file):
            # start again from now rather than fail for ever.
            self.cursor, self.since = None, int(time.time())
            self._save()
            argv = journal_argv(binary, self.selection, cursor=None, since=self.since)
            text, cut = await self._journalctl(argv)
        entries, parsed = parse_entries(text)
        return entries, parsed and not cut

    async def _newest(self) -> str | None:
        text, _ = await self._journalctl(latest_argv(_binary(), self.selection), MAX_BYTES)
        entries, _ = parse_entries(text)
        return last_cursor(entries)

    def _count(self, run: RunCount, entry: Entry) -> None:
        text = entry.message.encode()[: self.max_line].decode("utf-8", "ignore")
        run.lines += 1
        if self.pattern.search(text, limit=self.max_line):
            run.matches += 1
            run.last_match = text[:LAST_MATCH_CHARS]
            run.last_line = text


def _binary() -> str:
    path = shutil.which("journalctl")
    if path is None:
        raise ProbeError("journalctl is not installed here", hint=_HINT)
    return path
