"""The audit store: the one writer of the audit database, and its async read side.

Callers on the event loop never wait for SQLite. :meth:`AuditStore.emit` redacts the
event, encodes it as a row and puts it on a queue; one dedicated thread with its own
connection takes rows off the queue, chains their hashes and writes them in batches
(one transaction, ``executemany``), keeping the ``incidents`` table in step. Reads run
in worker threads on a separate read-only connection (WAL lets them run beside the
writer). :meth:`AuditStore.emit_durable` returns once the transaction holding its
event has committed: the engine writes an action's intent that way before acting.

Durability: WAL with ``synchronous=NORMAL``. A killed process (``kill -9``) loses
nothing that committed; a power cut may lose the last transactions, never corrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog

from medic.audit import query as q
from medic.audit.events import INCIDENT_CLOSERS, AuditEvent, Kind
from medic.audit.migrations import migrate
from medic.audit.query import ActionRecord
from medic.clock import iso
from medic.errors import MedicError
from medic.redact import redact, redact_text

log = structlog.get_logger("medic.audit")

P = ParamSpec("P")
T = TypeVar("T")

_INSERT = (
    'INSERT INTO events (time, host, kind, policy, target, incident, action, outcome, "values",'
    " details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_STOP = object()
_RETRIES = 3
INTERRUPTED_REASON = "agent stopped before the action finished"


@dataclass(frozen=True)
class _Barrier:
    """A row (or none) whose commit someone awaits: emit_durable and flush."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]
    row: tuple[Any, ...] | None


@dataclass(frozen=True)
class _WriteOp:
    """Another table's write (outbox, silences) run by the one writer, in its transaction."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    fn: Callable[[sqlite3.Connection], Any]


class AuditStore:
    def __init__(
        self, path: Path, *, host: str, batch_size: int = 1000, flush_interval: float = 0.05
    ) -> None:
        self.path = Path(path)
        self.host = host
        self._batch_size = max(1, batch_size)
        self._flush_interval = max(0.0, flush_interval)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._observers: list[Callable[[AuditEvent], None]] = []
        self._state = "new"  # new -> running -> closed
        self._thread: threading.Thread | None = None
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._rlock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._last_hash = q.GENESIS

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Create and migrate the database, then start the writer thread."""
        if self._state != "new":
            raise MedicError(f"the audit store for {self.path} was already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        await asyncio.to_thread(self._open)
        self._thread = threading.Thread(target=self._run, name="medic-audit-writer", daemon=True)
        self._thread.start()
        self._state = "running"

    def _open(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn)
            last = conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
            self._last_hash = last[0] if last else q.GENESIS
            self._wconn = conn
            self._rconn = q.connect_readonly(self.path)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            raise MedicError(
                f"cannot open the audit database {self.path}: {exc}",
                hint="check that the state_dir is writable and the file is a Medic audit database",
            ) from exc

    async def close(self) -> None:
        """Write everything queued, then stop the writer and close both connections."""
        if self._state != "running":
            self._state = "closed"
            return
        self._state = "closed"
        if self._rconn is not None:  # first, so the writer's close checkpoints the WAL
            with self._rlock:
                self._rconn.close()
        self._queue.put(_STOP)  # after every row queued before it
        assert self._thread is not None
        await asyncio.to_thread(self._thread.join, 60.0)
        if self._thread.is_alive():
            log.error("audit writer did not stop within 60s", path=str(self.path))

    # -- writing -----------------------------------------------------------------

    def on_event(self, callback: Callable[[AuditEvent], None]) -> None:
        """Call ``callback`` with every (redacted) event, on the loop thread, at emit time."""
        self._observers.append(callback)

    def emit(self, event: AuditEvent) -> None:
        """Queue ``event`` for writing; never blocks, safe from any thread."""
        if self._state == "closed":
            log.error("audit event after the store closed; not written", kind=str(event.kind))
            return
        row, redacted = encode_event(event, self.host)
        self._queue.put(row)
        self._notify(redacted)

    async def emit_durable(self, event: AuditEvent) -> None:
        """Write ``event`` and return once the transaction holding it has committed."""
        loop = self._require_running()
        row, redacted = encode_event(event, self.host)
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Barrier(loop, future, row))
        self._notify(redacted)
        await future

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the writer's connection, in the writer's thread, and return
        its result once the transaction holding it has committed.

        This is how other tables in the audit database (the notification outbox, silences)
        are written without a second writer. ``fn`` runs inside a savepoint: if it raises,
        only its own changes are rolled back and the exception is raised here.
        """
        loop = self._require_running()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_WriteOp(loop, future, fn))
        result: T = await future
        return result

    async def flush(self) -> None:
        """Return once every event emitted before this call has committed."""
        if self._state != "running":
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Barrier(loop, future, None))
        await future

    def _require_running(self) -> asyncio.AbstractEventLoop:
        if self._state != "running":
            raise MedicError(f"the audit store for {self.path} is {self._state}, not running")
        return asyncio.get_running_loop()

    def _notify(self, event: AuditEvent) -> None:
        if not self._observers:
            return
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._notify_here, event)
        else:
            self._notify_here(event)

    def _notify_here(self, event: AuditEvent) -> None:
        for callback in self._observers:
            try:
                callback(event)
            except Exception:  # an observer's bug must not stop the audit
                log.exception("audit observer failed", observer=repr(callback))

    # -- the writer thread -------------------------------------------------------

    def _run(self) -> None:
        while True:
            rows, waiters, stop = self._gather(self._queue.get())
            try:
                if rows or waiters:
                    self._commit(rows, waiters)
            except Exception as exc:  # keep writing later events whatever one batch did
                log.exception("audit writer failed on a batch", events=len(rows))
                for waiter in waiters:
                    self._resolve(waiter, exc)
            if stop:
                break
        assert self._wconn is not None
        self._wconn.close()

    def _gather(
        self, item: object
    ) -> tuple[list[tuple[Any, ...]], list[_Barrier | _WriteOp], bool]:
        """One batch: up to batch_size rows, waiting at most flush_interval for more
        unless someone awaits the commit."""
        rows: list[tuple[Any, ...]] = []
        waiters: list[_Barrier | _WriteOp] = []
        deadline = time.monotonic() + self._flush_interval
        while True:
            if item is _STOP:
                return rows, waiters, True
            if isinstance(item, _WriteOp):
                waiters.append(item)
            elif isinstance(item, _Barrier):
                waiters.append(item)
                if item.row is not None:
                    rows.append(item.row)
            else:
                rows.append(item)  # type: ignore[arg-type]  # only rows and markers are queued
            if len(rows) >= self._batch_size:
                return rows, waiters, False
            remaining = deadline - time.monotonic()
            try:
                if waiters or remaining <= 0:
                    item = self._queue.get_nowait()
                else:
                    item = self._queue.get(timeout=remaining)
            except queue.Empty:
                return rows, waiters, False

    def _commit(self, rows: list[tuple[Any, ...]], waiters: list[_Barrier | _WriteOp]) -> None:
        assert self._wconn is not None
        conn = self._wconn
        prev = self._last_hash
        params: list[tuple[Any, ...]] = []
        for row in rows:
            chained = (*row, prev)
            prev = q.chain_hash(prev, chained)
            params.append((*chained, prev))
        error: Exception | None = None
        results: dict[int, tuple[Any, BaseException | None]] = {}
        for attempt in range(1, _RETRIES + 1):
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(_INSERT, params)
                update_incidents(conn, rows)
                results = {
                    i: _run_op(conn, w.fn) for i, w in enumerate(waiters) if isinstance(w, _WriteOp)
                }
                conn.execute("COMMIT")
                error = None
                break
            except sqlite3.Error as exc:
                error = exc
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                log.warning("audit write failed", attempt=attempt, error=str(exc))
                if attempt < _RETRIES:
                    time.sleep(0.1 * attempt)
        if error is None:
            self._last_hash = prev
        else:
            log.error("audit events lost: could not write them", events=len(rows), error=str(error))
        for i, waiter in enumerate(waiters):
            value, op_error = results.get(i, (None, None))
            self._resolve(waiter, error, value, op_error)

    @staticmethod
    def _resolve(
        waiter: _Barrier | _WriteOp,
        error: Exception | None,
        value: Any = None,
        op_error: BaseException | None = None,
    ) -> None:
        def settle() -> None:
            if waiter.future.done():
                return
            if error is not None:
                waiter.future.set_exception(MedicError(f"audit write failed: {error}"))
            elif op_error is not None:
                waiter.future.set_exception(op_error)
            else:
                waiter.future.set_result(value)

        # RuntimeError: the waiting loop has closed; nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            waiter.loop.call_soon_threadsafe(settle)

    # -- reading -----------------------------------------------------------------

    async def _read(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        if self._rconn is None or self._state == "closed":
            raise MedicError(f"the audit store for {self.path} is not open")
        conn = self._rconn

        def run() -> T:
            with self._rlock:
                return fn(conn, *args, **kw)

        return await asyncio.to_thread(run)

    async def query(self, query: q.AuditQuery) -> list[dict[str, Any]]:
        """Committed events matching ``query``."""
        return await self._read(q.list_events, query)

    async def incident_events(self, incident: str) -> list[dict[str, Any]]:
        return await self._read(q.incident_events, incident)

    async def incidents(
        self, *, open_only: bool = False, policy: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        return await self._read(q.list_incidents, open_only=open_only, policy=policy, limit=limit)

    async def open_incidents(self) -> dict[tuple[str, str], str]:
        """(policy, target) -> open incident id, so a restart continues incidents."""
        return await self._read(q.open_incident_ids)

    async def escalated_open_incidents(self) -> set[str]:
        """Ids of open incidents that were escalated: after a restart they still owe a resolve."""
        return await self._read(q.escalated_open_ids)

    async def action_history(self, since: float) -> list[ActionRecord]:
        """Actions started (or would-run in dry-run) since ``since``, oldest first."""
        return await self._read(q.action_records, since)

    async def recover_interrupted(self) -> list[AuditEvent]:
        """Mark every action started but never finished (the agent died in between)
        with a durable ``action.interrupted`` event. Call once at start, before acting."""
        self._require_running()
        await self.flush()
        now = time.time()
        events = [
            AuditEvent(
                kind=Kind.ACTION_INTERRUPTED,
                time=now,
                policy=row["policy"],
                target=row["target"],
                incident=row["incident"],
                action=row["action"],
                outcome="interrupted",
                details={"reason": INTERRUPTED_REASON},
            )
            for row in await self._read(q.unfinished_actions)
        ]
        for event in events:
            self.emit(event)
        await self.flush()
        return events


# -- rows: what one event becomes --------------------------------------------------


def _run_op(
    conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any]
) -> tuple[Any, BaseException | None]:
    """One write op inside a savepoint: its failure undoes only its own changes."""
    conn.execute("SAVEPOINT write_op")
    try:
        value = fn(conn)
    except Exception as exc:  # handed back to the caller, the batch goes on
        conn.execute("ROLLBACK TO write_op")
        conn.execute("RELEASE write_op")
        return None, exc
    conn.execute("RELEASE write_op")
    return value, None


def _storable(text: str) -> str:
    """``text`` as SQLite can store it: lone surrogates escaped rather than fatal."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            text = text.encode("utf-8", "backslashreplace").decode()
    return text


def _text(value: str | None) -> str | None:
    return None if value is None else _storable(redact_text(value))


def _when(ts: float) -> str:
    """The event's time as ISO text; an impossible time becomes now, not a crash."""
    try:
        return iso(ts)
    except (ValueError, OverflowError, OSError, TypeError):
        return iso(time.time())


def _plain(value: Any) -> Any:
    """``value`` reduced to what JSON holds (str keys, finite numbers, lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def to_json(value: Any) -> str:
    """Compact JSON text with sorted keys; never raises on odd values."""
    try:
        text = _JSON(value)
    except (TypeError, ValueError):
        text = _JSON(_plain(value))
    return _storable(text)


def encode_event(event: AuditEvent, host: str) -> tuple[tuple[Any, ...], AuditEvent]:
    """The row for ``event`` (``time`` .. ``details``) and the redacted event."""
    values = None if event.values is None else redact(event.values)
    details = redact(event.details)
    row = (
        _when(event.time),
        host,
        str(event.kind),
        _text(event.policy),
        _text(event.target),
        _text(event.incident),
        _text(event.action),
        _text(event.outcome),
        None if values is None else to_json(values),
        to_json(details),
    )
    redacted = AuditEvent(
        event.kind, event.time, row[3], row[4], row[5], row[6], row[7], values, details
    )
    return row, redacted


# -- incidents: kept in step with the events, in the same transaction -----------------

_CLOSED_STATUS = {Kind.VERIFY_HEALED.value: "healed", Kind.CLEARED.value: "cleared"}
_CLOSERS = frozenset(kind.value for kind in INCIDENT_CLOSERS)


_NOT_SENT = frozenset({"dry_run", "silenced"})


def update_incidents(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Apply a batch of event rows to ``incidents``: the first event naming an incident
    opens its row (normally incident.detected), incident.escalated marks it, the
    closers (verify.healed, incident.cleared) close it, every event moves last_event.

    Done per batch rather than by a trigger per row: a batch touches few incidents,
    while a trigger cost about 30 µs of CPU per row, three times the insert itself."""
    first: dict[str, tuple[Any, ...]] = {}
    last: dict[str, str] = {}
    changes: list[tuple[str, tuple[Any, ...]]] = []
    for when, host, kind, policy, target, incident, _action, outcome, *_ in rows:
        if incident is None:
            continue
        first.setdefault(incident, (incident, policy, target, host, when, when))
        last[incident] = max(last.get(incident, when), when)
        # An escalation held back (dry-run, silenced) reached nobody: not "escalated".
        if kind == Kind.ESCALATED and outcome not in _NOT_SENT:
            changes.append(("UPDATE incidents SET escalated = 1 WHERE id = ?", (incident,)))
        elif kind in _CLOSERS:
            changes.append((_CLOSE, (when, _CLOSED_STATUS.get(kind, "cleared"), incident)))
    if not first:
        return
    conn.executemany(_OPEN, list(first.values()))
    for sql, params in changes:
        conn.execute(sql, params)
    conn.executemany(_TOUCH, [(when, incident, when) for incident, when in last.items()])


_OPEN = (
    "INSERT OR IGNORE INTO incidents (id, policy, target, host, opened, last_event, status,"
    " escalated) VALUES (?, ?, ?, ?, ?, ?, 'open', 0)"
)
_CLOSE = "UPDATE incidents SET closed = ?, status = ? WHERE id = ? AND closed IS NULL"
_TOUCH = "UPDATE incidents SET last_event = ? WHERE id = ? AND last_event < ?"


__all__ = [
    "INTERRUPTED_REASON",
    "ActionRecord",
    "AuditStore",
    "encode_event",
    "to_json",
    "update_incidents",
]
