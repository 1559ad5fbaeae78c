"""Reading the systemd journal for the ``journald`` probe: the command and its output.

:func:`journal_argv` builds the ``journalctl`` command (JSON output, only the fields
the probe reads, after the kept cursor or else since the probe's start);
:func:`parse_entries` turns its output into :class:`Entry` values. A ``MESSAGE`` is a
string, a list of byte values (journald stores non-UTF-8 and control characters that
way) or, for a field written more than once, a list of those: the last one counts. A
line that is not a whole JSON object (output cut at the size bound) ends the parse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PRIORITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
OUTPUT_FIELDS = "MESSAGE,PRIORITY,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT"


@dataclass(frozen=True)
class Entry:
    """One journal entry: where it is (its cursor) and its message."""

    cursor: str
    message: str


@dataclass(frozen=True)
class Selection:
    """Which entries the probe reads: journalctl's own filters."""

    unit: str | None = None
    identifier: str | None = None
    priority: str | None = None
    directory: str | None = None

    def filters(self) -> list[str]:
        out = [f"--directory={self.directory}"] if self.directory else []
        if self.unit:
            out.append(f"--unit={self.unit}")
        if self.identifier:
            out.append(f"--identifier={self.identifier}")
        if self.priority:
            out.append(f"--priority={self.priority}")
        return out

    @property
    def target(self) -> str:
        """The target id: the unit, else the identifier, else ``journal``."""
        return self.unit or self.identifier or "journal"


def journal_argv(
    binary: str, selection: Selection, *, cursor: str | None, since: int | None
) -> list[str]:
    """Entries after ``cursor`` (else since the epoch second ``since``, else all)."""
    argv = [binary, "--quiet", "--no-pager", "--all", "--output=json"]
    argv.append(f"--output-fields={OUTPUT_FIELDS}")
    argv.extend(selection.filters())
    if cursor is not None:
        argv.append(f"--after-cursor={cursor}")
    elif since is not None:
        argv.append(f"--since=@{since}")
    return argv


def latest_argv(binary: str, selection: Selection) -> list[str]:
    """The newest matching entry alone: where to skip ahead to."""
    fields = "--output-fields=MESSAGE"  # the cursor comes anyway
    return [
        binary,
        "--quiet",
        "--no-pager",
        "--output=json",
        fields,
        "--lines=1",
        *selection.filters(),
    ]


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(b, int) and 0 <= b < 256 for b in value):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, list) and value:  # the field written more than once
        return _text(value[-1])
    return None


def parse_entries(text: str) -> tuple[list[Entry], bool]:
    """The entries in ``journalctl -o json`` output, and whether all of it parsed."""
    entries: list[Entry] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError:
            return entries, False
        if not isinstance(raw, dict) or not isinstance(raw.get("__CURSOR"), str):
            return entries, False
        entries.append(Entry(raw["__CURSOR"], _text(raw.get("MESSAGE")) or ""))
    return entries, True


def last_cursor(entries: Sequence[Entry]) -> str | None:
    return entries[-1].cursor if entries else None
