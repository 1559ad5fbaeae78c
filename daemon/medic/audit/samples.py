"""The ``samples`` table: what probes measured, written and read back.

Rows are written by the audit writer's thread (through ``AuditStore.write``), so the
event loop never waits for SQLite: :func:`insert` is the function it runs. The agent
reads a policy's recent rows back at start (:func:`window_rows`) so a 30-minute window
is not blind after a restart; ``medic backtest`` reads a period's recording
(:func:`recorded_rows`, on a read-only connection); :func:`prune` deletes old rows in
small batches.

A row holds a run of measurements of one target: ``fields`` is a JSON object of its
numeric, boolean and short text fields at ``time``; ``probe`` a fingerprint of the
probe's type and options, so a recording is never replayed through a different probe.
A steady target is not a row a second: ``count`` measurements (``measured``) evenly
spread over ``span`` seconds from ``time`` (at most :data:`MAX_RUN`), each with the same
fields except those named in ``ticking``, which grew by the time elapsed (a file's
``age``). :func:`readings` gives back the measurements a row stands for. Rows written
before runs existed read as runs of one.
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
# A row's run covers at most this many seconds: reads look back this far before a period.
MAX_RUN = 60.0
_MAX_COUNT = 60_001  # a millisecond apart: more is a row edited by hand


class SampleRow(NamedTuple):
    """A run of measurements of one target (one, unless ``measured`` says more), as written
    and as read back.

    A named tuple: a tuple costs half of a frozen dataclass to build."""

    time: float
    policy: str
    target: str
    probe: str
    recorded: bool
    fields: Mapping[str, Any]
    span: float = 0.0  # seconds from the first measurement to the last
    measured: int = 1  # how many measurements, evenly spread over span
    ticking: tuple[str, ...] = ()  # fields that grow by the time elapsed

    @property
    def end(self) -> float:
        """When the last of the run's measurements was taken."""
        return self.time + self.span


def fields_at(row: SampleRow, t: float) -> dict[str, Any]:
    """The row's fields as measured at ``t`` (within the run; later, as at its end)."""
    fields = dict(row.fields)
    if row.ticking:
        elapsed = min(t, row.end) - row.time
        for name in row.ticking:
            fields[name] = round(fields[name] + elapsed, 6)
    return fields


def reading_times(row: SampleRow) -> list[float]:
    """When each of the row's measurements was taken (its first and last exactly)."""
    if row.measured <= 1:
        return [row.time]
    step = row.span / (row.measured - 1)
    return [row.time + k * step for k in range(row.measured - 1)] + [row.end]


def readings(row: SampleRow) -> Iterator[tuple[float, dict[str, Any]]]:
    """The measurements the row stands for: (time, fields), oldest first."""
    for t in reading_times(row):
        yield t, fields_at(row, t)


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
        "INSERT INTO samples (time, policy, target, probe, recorded, fields, span, count,"
        " ticking) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                iso(r.time),
                r.policy,
                r.target,
                r.probe,
                int(r.recorded),
                _ENCODE(r.fields if type(r.fields) is dict else dict(r.fields)),
                r.span,
                r.measured,
                _ENCODE(r.ticking) if r.ticking else None,
            )
            for r in rows
        ],
    )
    return len(rows)


def _rows(cursor: Iterator[tuple[Any, ...]]) -> list[SampleRow]:
    out: list[SampleRow] = []
    for time, policy, target, probe, recorded, fields, span, count, ticking in cursor:
        try:
            decoded = json.loads(fields)
        except ValueError:
            continue  # a row edited by hand: skip it, never fail the start
        if not isinstance(decoded, dict):
            continue
        run = _run(decoded, span, count, ticking)
        if run is not None:
            out.append(SampleRow(parse_iso(time), policy, target, probe, bool(recorded), *run))
    return out


def _run(
    fields: dict[str, Any], span: Any, count: Any, ticking: Any
) -> tuple[dict[str, Any], float, int, tuple[str, ...]] | None:
    """A row's run as written, or None when a hand-edited one makes no sense."""
    try:
        names = tuple(json.loads(ticking)) if isinstance(ticking, str) else ()
    except ValueError:
        return None
    if not (isinstance(count, int) and 1 <= count <= _MAX_COUNT and isinstance(span, int | float)):
        return None
    if not (math.isfinite(span) and 0 <= span <= MAX_RUN):
        return None
    if any(type(fields.get(name)) is not float for name in names):
        return None
    return fields, float(span), count, names


# An old database (before runs, not yet upgraded by the agent) reads as runs of one.
_COLUMNS = "time, policy, target, probe, recorded, fields, span, count, ticking"
_OLD_COLUMNS = "time, policy, target, probe, recorded, fields, 0.0, 1, NULL"


def _select(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[SampleRow]:
    for columns in (_COLUMNS, _OLD_COLUMNS):
        try:
            cursor = conn.execute(
                f"SELECT {columns} FROM samples WHERE {where} ORDER BY time, id",  # noqa: S608 -- constant columns and conditions
                params,
            )
        except sqlite3.OperationalError as exc:
            if "no such column" not in str(exc):
                raise
            continue
        return _rows(cursor)
    return []


def window_rows(conn: sqlite3.Connection, policy: str, since: float) -> list[SampleRow]:
    """The rows of ``policy`` with a measurement since ``since``, oldest first."""
    rows = _select(conn, "policy = ? AND time >= ?", (policy, iso(since - MAX_RUN)))
    return [row for row in rows if row.end >= since]


def recorded_rows(
    conn: sqlite3.Connection, policy: str, since: float, until: float
) -> list[SampleRow]:
    """The recording of ``policy`` with a measurement between ``since`` and ``until``,
    oldest first."""
    rows = _select(
        conn,
        "policy = ? AND recorded = 1 AND time >= ? AND time <= ?",
        (policy, iso(since - MAX_RUN), iso(until)),
    )
    return [row for row in rows if row.end >= since]


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
