"""The audit database's one writer: a thread that commits queued rows in batches.

Rows (and requests to be told of a commit) go on a queue that never blocks its
callers. The thread takes up to ``batch_size`` rows at a time, waiting at most
``flush_interval`` for more unless someone awaits the commit, chains their hashes and
writes them in one transaction (``executemany``) together with the ``incidents``
changes they imply and any queued write of another table (outbox, silences). A
failed transaction is retried a few times; the waiters learn the outcome either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from medic.audit.chain import GENESIS
from medic.audit.rows import update_incidents
from medic.errors import MedicError

log = structlog.get_logger("medic.audit")

_INSERT = (
    'INSERT INTO events (time, host, kind, policy, target, incident, action, outcome, "values",'
    " details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_STOP = object()
Link = Callable[[str, Sequence[Any]], str]  # (prev_hash, row) -> this row's hash
_RETRIES = 3


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


class AuditWriter:
    """The queue and the thread that drains it into the database."""

    def __init__(self, *, batch_size: int, flush_interval: float) -> None:
        self._batch_size = max(1, batch_size)
        self._flush_interval = max(0.0, flush_interval)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._last_hash = GENESIS
        self._link: Link | None = None
        # (events in the log, hash of the last): replaced whole, read from any thread.
        self.head: tuple[int, str] = (0, GENESIS)
        # Told (in the writer thread) the error of every batch that could not be written.
        self.on_failure: Callable[[str], None] | None = None

    def start(self, conn: sqlite3.Connection, head: tuple[int, str], link: Link) -> None:
        """Write through ``conn`` (which the writer closes when it stops), chaining
        on from ``head`` (count, last hash) with ``link``; rows queued before this are
        written first."""
        self._conn = conn
        self.head = head
        self._last_hash = head[1]
        self._link = link
        self._thread = threading.Thread(target=self._run, name="medic-audit-writer", daemon=True)
        self._thread.start()

    def put(self, row: tuple[Any, ...]) -> None:
        """Queue a row; never blocks, safe from any thread."""
        self._queue.put(row)

    def barrier(
        self, loop: asyncio.AbstractEventLoop, row: tuple[Any, ...] | None
    ) -> asyncio.Future[None]:
        """Queue ``row`` (or nothing); the future is done once everything queued so far
        has committed."""
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Barrier(loop, future, row))
        return future

    def operation(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[[sqlite3.Connection], Any]
    ) -> asyncio.Future[Any]:
        """Queue ``fn(conn)``; the future holds its result once its transaction commits."""
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_WriteOp(loop, future, fn))
        return future

    def stop(self) -> None:
        """Write everything queued so far, then close the connection and end the thread."""
        self._queue.put(_STOP)  # after every row queued before it

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end (blocking); False if it is still busy after
        ``timeout`` seconds."""
        assert self._thread is not None
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- the thread ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            rows, waiters, stop = self._gather(self._queue.get())
            try:
                if rows or waiters:
                    self._commit(rows, waiters)
            except Exception as exc:  # keep writing later events whatever one batch did
                log.exception("audit.batch_failed", events=len(rows))
                self._report(f"{type(exc).__name__}: {exc}")
                for waiter in waiters:
                    _resolve(waiter, exc)
            if stop:
                break
        assert self._conn is not None
        self._conn.close()

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
        assert self._conn is not None and self._link is not None
        conn, link = self._conn, self._link
        prev = self._last_hash
        params: list[tuple[Any, ...]] = []
        for row in rows:
            chained = (*row, prev)
            prev = link(prev, chained)
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
                log.warning("audit.write_failed", attempt=attempt, error=str(exc))
                if attempt < _RETRIES:
                    time.sleep(0.1 * attempt)
        if error is None:
            self._last_hash = prev
            self.head = (self.head[0] + len(rows), prev)
        else:
            log.error("audit.events_lost", events=len(rows), error=str(error))
            self._report(str(error))
        for i, waiter in enumerate(waiters):
            value, op_error = results.get(i, (None, None))
            _resolve(waiter, error, value, op_error)

    def _report(self, error: str) -> None:
        if self.on_failure is None:
            return
        try:
            self.on_failure(error)
        except Exception:  # the alarm's bug must not stop the writer
            log.exception("audit.failure_listener_failed")


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


def _resolve(
    waiter: _Barrier | _WriteOp,
    error: Exception | None,
    value: Any = None,
    op_error: BaseException | None = None,
) -> None:
    """Tell the waiting loop how its commit went (from the writer thread)."""

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
