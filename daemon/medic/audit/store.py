"""The audit store: the one writer of the audit database, and its async read side.

Callers on the event loop never wait for SQLite. :meth:`AuditStore.emit` redacts the
event, encodes it as a row (:mod:`medic.audit.rows`) and puts it on a queue; one
dedicated thread with its own connection (:mod:`medic.audit.writer`) takes rows off the
queue, chains their hashes and writes them in batches (one transaction,
``executemany``), keeping the ``incidents`` table in step. Reads run
in worker threads on a separate read-only connection (WAL lets them run beside the
writer). :meth:`AuditStore.emit_durable` returns once the transaction holding its
event has committed: the engine writes an action's intent that way before acting.

Durability: WAL with ``synchronous=NORMAL``. A killed process (``kill -9``) loses
nothing that committed; a power cut may lose the last transactions, never corrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog

from medic.audit import query as q
from medic.audit.anchor import chain_head
from medic.audit.chain import ChainKey, read_marker, write_marker
from medic.audit.checkpoints import CheckpointPublisher
from medic.audit.events import AuditEvent, Kind
from medic.audit.key import AuditKeyError, default_key_path, load_key
from medic.audit.migrations import migrate
from medic.audit.options import AuditOptions
from medic.audit.query import ActionRecord
from medic.audit.rows import encode_event
from medic.audit.upgrade import open_for_writing
from medic.audit.writer import AuditWriter
from medic.clock import iso
from medic.errors import MedicError

log = structlog.get_logger("medic.audit")

P = ParamSpec("P")
T = TypeVar("T")

INTERRUPTED_REASON = "agent stopped before the action finished"


class AuditStore:
    def __init__(
        self,
        path: Path,
        *,
        host: str,
        batch_size: int = 1000,
        flush_interval: float = 0.05,
        options: AuditOptions | None = None,
    ) -> None:
        self.path = Path(path)
        self.host = host
        self.options = options or AuditOptions()
        self._writer = AuditWriter(batch_size=batch_size, flush_interval=flush_interval)
        # The agent's store (given options) sends checkpoints; a library use stays quiet.
        self.checkpoints = (
            None
            if options is None
            else CheckpointPublisher(options.checkpoint, self.head, host=host, db=str(self.path))
        )
        self._observers: list[Callable[[AuditEvent], None]] = []
        self._state = "new"  # new -> running -> closed
        self._rconn: sqlite3.Connection | None = None
        self._rlock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # The chain's key, once started: retention tags its anchor with it.
        self.chain_key: ChainKey | None = None

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Create and migrate the database, then start the writer thread."""
        if self._state != "new":
            raise MedicError(f"the audit store for {self.path} was already started")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        conn, head, key = await asyncio.to_thread(self._open)
        self._writer.start(conn, head, key.link)
        self._state = "running"
        if self.checkpoints is not None:
            self.checkpoints.start()

    def head(self) -> tuple[int, str]:
        """(events written, hash of the last): the chain head as of the last commit."""
        return self._writer.head

    def _open(self) -> tuple[sqlite3.Connection, tuple[int, str], ChainKey]:
        """The writer's connection, the chain head and its key; opens the reader too."""
        conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = open_for_writing(self.path)
            migrate(conn)  # nothing to do when `medic run` migrated apart (medic.audit.upgrade)
            key = self._key(conn)
            head = chain_head(conn)
            self._rconn = q.connect_readonly(self.path)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            raise MedicError(
                f"cannot open the audit database {self.path}: {exc}",
                hint="check that the state_dir is writable and the file is a Medic audit database",
            ) from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        self.chain_key = key
        return conn, head, key

    def _key(self, conn: sqlite3.Connection) -> ChainKey:
        """The chain's key; on the first keyed start, mark where the keyed chain begins."""
        marker = read_marker(conn)
        key = load_key(self.options.key, self.path, create=marker is None)
        if key is None:
            assert marker is not None
            raise AuditKeyError(
                f"{self.path} was written with an audit key (id {marker.key_id}) and"
                f" {default_key_path(self.path)} is missing",
                hint="restore the key file from a backup, or move audit.db aside to start"
                " a new log",
            )
        if marker is None:
            marker = write_marker(conn, key, iso(time.time()))
        if key.key_id != marker.key_id:
            raise AuditKeyError(
                f"the audit key from {key.source} (id {key.key_id}) is not the one"
                f" {self.path} was written with (id {marker.key_id})",
                hint="configure the original key (audit.key), or move audit.db aside to"
                " start a new log",
            )
        if not marker.authentic(key):
            log.error("audit.chain_marker_edited", db=str(self.path), keyed_from=marker.keyed_from)
        return key

    async def close(self) -> None:
        """Write everything queued, then stop the writer and close both connections."""
        if self._state != "running":
            self._state = "closed"
            return
        self._state = "closed"
        if self.checkpoints is not None:
            await self.checkpoints.stop_interval()
        if self._rconn is not None:  # first, so the writer's close checkpoints the WAL
            with self._rlock:
                self._rconn.close()
        self._writer.stop()
        if not await asyncio.to_thread(self._writer.join, 60.0):
            log.error("audit.writer_stuck", path=str(self.path))
        if self.checkpoints is not None:
            await self.checkpoints.publish_final()

    # -- writing -----------------------------------------------------------------

    def on_event(self, callback: Callable[[AuditEvent], None]) -> None:
        """Call ``callback`` with every (redacted) event, on the loop thread, at emit time."""
        self._observers.append(callback)

    def on_write_failure(self, callback: Callable[[str], None]) -> None:
        """Call ``callback`` with the error, on the loop thread, whenever a batch of
        events (or a write of another table) could not be committed."""

        def report(error: str) -> None:
            if self._loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop has closed
                    self._loop.call_soon_threadsafe(callback, error)

        self._writer.on_failure = report

    def emit(self, event: AuditEvent) -> None:
        """Queue ``event`` for writing; never blocks, safe from any thread."""
        if self._state == "closed":
            log.error("audit.event_after_close", kind=str(event.kind))
            return
        row, redacted = encode_event(event, self.host)
        self._writer.put(row)
        self._notify(redacted)

    async def emit_durable(self, event: AuditEvent) -> None:
        """Write ``event`` and return once the transaction holding it has committed."""
        loop = self._require_running()
        row, redacted = encode_event(event, self.host)
        future = self._writer.barrier(loop, row)
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
        result: T = await self._writer.operation(loop, fn)
        return result

    async def flush(self) -> None:
        """Return once every event emitted before this call has committed."""
        if self._state != "running":
            return
        await self._writer.barrier(asyncio.get_running_loop(), None)

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
                log.exception("audit.observer_failed", observer=repr(callback))

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

    async def match_incidents(self, prefix: str, limit: int = 5) -> list[str]:
        """Incident ids equal to ``prefix``, else starting with it (short ids)."""
        return await self._read(q.match_incidents, prefix, limit)

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


__all__ = ["INTERRUPTED_REASON", "ActionRecord", "AuditStore"]
