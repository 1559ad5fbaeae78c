"""The real agent under a stream of incidents while its webhook receiver is down.

The receiver (aiohttp on 127.0.0.1) closes its port for a while; meanwhile policies keep
escalating and resolving, and the agent is killed with SIGKILL and started again. When
the receiver is back, every notification arrives, none twice (counted per
``X-Medic-Delivery``). Run with ``-s`` to see the counts.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from kit.agent_harness import AgentProcess
from kit.ports import free_port

pytestmark = pytest.mark.integration

POLICIES = 4  # incidents per round
ROUNDS = 5  # rounds 2-4 happen with the receiver down, the agent killed during round 3
OUTAGE = 10.0  # seconds the receiver stays down at least


class Receiver:
    """A webhook endpoint on a fixed loopback port that can go down (port closed) and
    come back; counts deliveries per ``X-Medic-Delivery`` and notes which (incident,
    kind) each delivery id carried."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.counts: Counter[str] = Counter()
        self.carried: dict[str, tuple[str, str]] = {}
        self.last_delivery = 0.0
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        delivery = request.headers["X-Medic-Delivery"]
        with self._lock:
            self.counts[delivery] += 1
            self.carried[delivery] = (body["incident"], body["kind"])
            self.last_delivery = time.monotonic()
        return web.Response(status=204)

    async def _up(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def up(self) -> None:
        self._call(self._up())

    def down(self) -> None:
        self._call(self._down())

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def delivered(self) -> set[tuple[str, str]]:
        with self._lock:
            return set(self.carried.values())

    def close(self) -> None:
        self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.up()
    yield r
    r.close()


def incidents(agent: AgentProcess, kind: str) -> set[str]:
    return {e["incident"] for e in agent.events(kind) if e["outcome"] != "dry_run"}


def outbox_states(agent: AgentProcess) -> Counter[str]:
    conn = sqlite3.connect(f"file:{agent.db}?mode=ro", uri=True, timeout=5)
    try:
        return Counter(dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")))
    finally:
        conn.close()


def seen_since_restart(agent: AgentProcess) -> set[str]:
    """Incidents a policy has measured again since the agent last started (the outbox's
    own notification events name incidents too, so they do not count)."""
    events = agent.events()
    starts = [n for n, e in enumerate(events) if e["kind"] == "agent.started"]
    return {
        e["incident"]
        for e in events[starts[-1] :]
        if e["incident"] and not e["kind"].startswith("notification.")
    }


class Stream:
    """Creates and deletes flag files so each policy opens and closes incidents."""

    def __init__(self, agent: AgentProcess, root: Path) -> None:
        self.agent = agent
        self.flags = [root / f"flag-{n}" for n in range(POLICIES)]

    def open(self) -> set[str]:
        before = incidents(self.agent, "incident.escalated")
        for flag in self.flags:
            flag.write_text("x")
        self.agent.wait_for(
            lambda: len(incidents(self.agent, "incident.escalated") - before) == POLICIES,
            what="a round of escalations",
        )
        return incidents(self.agent, "incident.escalated") - before

    def close(self, opened: set[str]) -> None:
        for flag in self.flags:
            flag.unlink()
        self.agent.wait_for(
            lambda: opened <= incidents(self.agent, "incident.cleared"),
            what="a round of resolves",
        )

    def round(self) -> set[str]:
        opened = self.open()
        self.close(opened)
        return opened


def configure(agent: AgentProcess, stream: Stream, url: str) -> None:
    config = yaml.safe_load(agent.config.read_text())
    config["notifiers"] = {"oncall": {"type": "webhook", "url": url, "timeout": "2s"}}
    agent.config.write_text(yaml.safe_dump(config))
    agent.write_policy(
        "stream.yaml",
        [
            {
                "name": f"flag-{n}",
                "probe": {"type": "file", "path": str(flag), "every": "200ms"},
                "when": "exists",
                "escalate": {"notify": ["oncall"]},
            }
            for n, flag in enumerate(stream.flags)
        ],
    )


def test_every_notification_arrives_once_after_an_outage_and_a_crash(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Receiver down under a stream of incidents, agent killed -9 meanwhile: nothing is
    lost and nothing is delivered twice once the receiver is back."""
    agent = AgentProcess(tmp_path / "agent")
    stream = Stream(agent, tmp_path)
    configure(agent, stream, receiver.url)
    produced: set[str] = set()
    try:
        agent.start()
        produced |= stream.round()  # round 1: the receiver is up
        receiver.down()
        down_at = time.monotonic()
        produced |= stream.round()  # round 2
        opened = stream.open()  # round 3: escalated, then the agent dies
        produced |= opened
        agent.kill9()
        agent.start()
        agent.wait_for(lambda: agent.kinds().count("agent.started") == 2, what="the restart")
        # The new agent picks the open incidents up (and may decide to escalate them
        # again: same idempotency keys, nothing new is queued) before they clear.
        agent.wait_for(lambda: seen_since_restart(agent) >= opened, what="the open incidents")
        stream.close(opened)
        produced |= stream.round()  # round 4
        time.sleep(max(0.0, down_at + OUTAGE - time.monotonic()))
        assert {incident for incident, _ in receiver.delivered()} <= produced
        receiver.up()
        up_at = time.monotonic()
        produced |= stream.round()  # round 5: the receiver is back
        expected = {(i, kind) for i in produced for kind in ("escalation", "resolve")}
        agent.wait_for(
            lambda: receiver.delivered() >= expected and not outbox_states(agent)["pending"],
            what="every notification to be delivered",
            timeout=60,
        )
        drained = receiver.last_delivery - up_at
        failed = agent.events("notification.failed")
    finally:
        agent.stop()
    counts = receiver.snapshot()
    duplicates = sum(c - 1 for c in counts.values())
    print(
        f"\noutbox e2e: {len(produced)} incidents, {len(expected)} notifications produced,"
        f" {len(counts)} delivered, {duplicates} duplicates, receiver down"
        f" {up_at - down_at:.1f}s, {len(failed)} failed attempts, last delivery"
        f" {drained:.2f}s after the receiver came back"
    )
    assert len(produced) == ROUNDS * POLICIES
    assert receiver.delivered() == expected
    assert len(counts) == len(expected)  # one delivery id per notification
    assert duplicates == 0
    assert outbox_states(agent) == Counter({"sent": len(expected)})
    assert failed and not any(e["details"]["final"] for e in failed)
    assert max(e["details"]["attempt"] for e in failed) >= 3
