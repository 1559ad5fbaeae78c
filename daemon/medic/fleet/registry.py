"""This agent in the fleet view: a record in etcd under a lease, renewed every heartbeat.

The record (host, version, policy-set digest, open incidents, last heartbeat) lives
under ``medic/fleet/agents/<host>`` and the agent's group memberships under
``medic/fleet/groups/<group>/agents/<host>``, all on one lease of three heartbeats: an
agent that dies drops out of the view and out of its groups' counts by itself. A copy
without a lease (``medic/fleet/seen/<host>``) stays, so ``medic fleet status`` can name
agents that went silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from medic import __version__
from medic.errors import FleetError
from medic.fleet import keys
from medic.fleet.client import Etcd, put_op

log = structlog.get_logger("medic.fleet")


def policy_set_digest(digests: Iterable[tuple[str, str]]) -> str:
    """One digest for a set of (policy name, policy digest): equal sets, equal digests."""
    text = "\n".join(f"{name} {digest}" for name, digest in sorted(digests))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Registration:
    """Keeps this agent's record in etcd until :meth:`stop`."""

    def __init__(
        self,
        etcd: Etcd,
        host: str,
        groups: Iterable[str],
        heartbeat: float,
        describe: Callable[[], dict[str, Any]],
    ) -> None:
        self.etcd = etcd
        self.host = host
        self.groups = tuple(groups)
        self.heartbeat = heartbeat
        self.describe = describe
        self.lease = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Leave the fleet: the record and memberships go, the last-seen copy says why."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.etcd.put(keys.seen(self.host), json.dumps(self.record(stopped=True)))
            if self.lease:
                await self.etcd.revoke(self.lease)
        except FleetError as exc:
            log.warning("fleet.leave_failed", error=exc.message)

    def record(self, stopped: bool = False) -> dict[str, Any]:
        return {
            "host": self.host,
            "version": __version__,
            "groups": list(self.groups),
            "heartbeat": time.time(),
            "heartbeat_every": self.heartbeat,
            "stopped": stopped,
            **self.describe(),
        }

    async def beat(self) -> None:
        """Renew the lease (a new one if it lapsed) and write the record."""
        if not self.lease or not await self.etcd.keepalive(self.lease):
            self.lease = await self.etcd.grant(self.heartbeat * 3)
        value = json.dumps(self.record())
        ops = [put_op(keys.agent(self.host), value, self.lease)]
        ops += [put_op(keys.member(g, self.host), self.host, self.lease) for g in self.groups]
        ops.append(put_op(keys.seen(self.host), value))
        await self.etcd.txn([], ops)

    async def _loop(self) -> None:
        while True:
            try:
                await self.beat()
            except FleetError as exc:
                log.warning("fleet.heartbeat_failed", error=exc.message)
            await asyncio.sleep(self.heartbeat)
