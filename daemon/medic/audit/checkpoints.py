"""Checkpoints: the chain head, sent off the host at an interval.

A checkpoint is ``(count, head)``: how many events the log holds and the hash of the
last one, with the time it was taken. Once it has left the host (the journal, a log
shipper, an HTTP endpoint) nobody who only holds the host can take it back, so
``medic audit verify --checkpoint COUNT:HASH`` later proves the first ``count`` events
are the ones written then: a shorter log was cut, a different hash was rewritten,
even by someone who has the key.

:class:`CheckpointPublisher` logs ``audit.checkpoint`` (count, head, time) at start,
every ``every`` seconds and at stop, and POSTs the same as JSON to ``url`` when one
is configured. A failed POST is logged and retried at the next checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from medic.audit.options import CheckpointOptions
from medic.audit.verify import Checkpoint
from medic.clock import iso
from medic.lazy import lazy_module

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")

log = structlog.get_logger("medic.audit")
POST_TIMEOUT = 10.0


class CheckpointPublisher:
    """Sends the head given by ``head()`` every ``options.every`` seconds."""

    def __init__(
        self,
        options: CheckpointOptions,
        head: Callable[[], tuple[int, str]],
        *,
        host: str,
        db: str,
    ) -> None:
        self.options = options
        self._head = head
        self._host = host
        self._db = db
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.last: Checkpoint | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop_interval(self) -> None:
        """Stop publishing on the interval (the store is closing)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish_final(self) -> None:
        """Publish the head once the last event is written, then close the client."""
        await self.publish()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            try:
                await self.publish()
            except Exception:  # a bug here must not end the checkpoints for good
                log.exception("audit.checkpoint_failed")
            await asyncio.sleep(self.options.every)

    async def publish(self) -> Checkpoint:
        count, head = self._head()
        point = Checkpoint(count, head, iso(time.time()))
        self.last = point
        log.info("audit.checkpoint", count=count, head=head, at=point.time, db=self._db)
        if self.options.url is not None:
            await self._post(self.options.url, point)
        return point

    async def _post(self, url: str, point: Checkpoint) -> None:
        body: dict[str, Any] = {
            "host": self._host,
            "db": self._db,
            "count": point.count,
            "head": point.head,
            "time": point.time,
            "checkpoint": str(point),
        }
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=POST_TIMEOUT))
        try:
            async with self._session.post(url, json=body) as response:
                if response.status >= 300:
                    raise aiohttp.ClientError(f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("audit.checkpoint_not_sent", url=url, error=str(exc) or type(exc).__name__)
