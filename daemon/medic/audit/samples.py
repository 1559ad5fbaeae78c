"""The ``samples`` table: what probes measured, written and read back.

Rows are written by the audit writer's thread (through ``AuditStore.write``), so the
event loop never waits for SQLite: :func:`insert` is the function it runs. The agent
reads a policy's recent rows back at start (:func:`window_rows`) so a 30-minute window
is not blind after a restart; ``medic backtest`` reads a period's recording
(:func:`recorded_rows`, on a read-only connection); :func:`prune` deletes old rows in
small batches.

A row holds one measurement of one target: ``fields`` is a JSON object of its numeric,
boolean and short text fields; ``probe`` a fingerprint of the probe's type and options,
so a recording is never replayed through a different probe.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from medic.clock import iso, parse_iso

# Text fields longer than this are not kept (log lines, command output).
MAX_TEXT = 200
# Rows deleted per transaction when pruning, so the writer is never held for long.
PRUNE_BATCH = 2000


class SampleRow(NamedTuple):
    """One measurement of one target, as written and as read back.

    A named tuple: one is made per target and measurement, and a tuple costs half of a
    frozen dataclass to build."""

    time: float
    policy: str
    target: str
    probe: str
    recorded: bool
    fields: Mapping[str, Any]


def fingerprint(probe_type: str, options: Mapping[str, Any]) -> str:
    """A short, stable name for a probe's type and options."""
    text = json.dumps([probe_type, options], sort_keys=True, default=str)
    return f"{probe_type}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def keepable(value: Any) -> bool:
    """Finite numbers, booleans and short strings are kept; anything else is not."""
    kind = type(value)  # the common exact types first: this runs for every field, every run
    if kind is bool or kind is int:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is str:
        return len(value) <= MAX_TEXT
    if isinstance(value, int | float):  # subclasses (an IntEnum, numpy's float64); bool has none
        return math.isfinite(value)
    return isinstance(value, str) and len(value) <= MAX_TEXT


# One encoder for every row: ``json.dumps`` with options builds a new one per call.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def insert(conn: sqlite3.Connection, rows: Sequence[SampleRow]) -> int:
    """Write ``rows`` (runs on the writer's connection)."""
    conn.executemany(
        "INSERT INTO samples (time, policy, target, probe, recorded, fields)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                iso(r.time),
                r.policy,
                r.target,
                r.probe,
                int(r.recorded),
                _ENCODE(r.fields if type(r.fields) is dict else dict(r.fields)),
            )
            for r in rows
        ],
    )
    return len(rows)


def _rows(cursor: Iterator[tuple[Any, ...]]) -> list[SampleRow]:
    out: list[SampleRow] = []
    for time, policy, target, probe, recorded, fields in cursor:
        try:
            decoded = json.loads(fields)
        except ValueError:
            continue  # a row edited by hand: skip it, never fail the start
        if isinstance(decoded, dict):
            out.append(SampleRow(parse_iso(time), policy, target, probe, bool(recorded), decoded))
    return out


_COLUMNS = "time, policy, target, probe, recorded, fields"


def window_rows(conn: sqlite3.Connection, policy: str, since: float) -> list[SampleRow]:
    """The rows of ``policy`` since ``since``, oldest first."""
    cursor = conn.execute(
        f"SELECT {_COLUMNS} FROM samples WHERE policy = ? AND time >= ? ORDER BY time, id",  # noqa: S608 -- a constant list of columns
        (policy, iso(since)),
    )
    return _rows(cursor)


def recorded_rows(
    conn: sqlite3.Connection, policy: str, since: float, until: float
) -> list[SampleRow]:
    """The recording of ``policy`` between ``since`` and ``until``, oldest first."""
    cursor = conn.execute(
        f"SELECT {_COLUMNS} FROM samples WHERE policy = ? AND recorded = 1"  # noqa: S608 -- a constant list of columns
        " AND time >= ? AND time <= ? ORDER BY time, id",
        (policy, iso(since), iso(until)),
    )
    return _rows(cursor)


def recorded_policies(conn: sqlite3.Connection, since: float) -> dict[str, set[str]]:
    """Policy name -> the probe fingerprints it was recorded with since ``since``."""
    out: dict[str, set[str]] = {}
    cursor = conn.execute(
        "SELECT DISTINCT policy, probe FROM samples WHERE recorded = 1 AND time >= ?",
        (iso(since),),
    )
    for policy, probe in cursor:
        out.setdefault(policy, set()).add(probe)
    return out


def prune(conn: sqlite3.Connection, before: float, batch: int = PRUNE_BATCH) -> int:
    """Delete up to ``batch`` of the oldest rows older than ``before``; how many went."""
    cursor = conn.execute(
        "DELETE FROM samples WHERE id IN"
        " (SELECT id FROM samples WHERE time < ? ORDER BY time LIMIT ?)",
        (iso(before), batch),
    )
    return cursor.rowcount
