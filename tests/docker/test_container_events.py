"""Event-driven reaction: the container probe's watch() and the event follower."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from medic.drivers.docker import EventFollower, EventStream, open_container_events
from medic.probes.containers.container import ContainerProbe

HEALTHCHECK = {
    "test": ["CMD", "/bin/sh", "-c", "test -f /tmp/ok"],
    "interval": 1_000_000_000,
    "timeout": 1_000_000_000,
    "retries": 1,
}


async def next_item(stream: AsyncIterator[Any], within: float) -> Any:
    return await asyncio.wait_for(anext(stream), within)


class Watching:
    """Pumps a watch into a queue, so a test can wait with timeouts without cancelling
    the watch itself (cancelling a pending ``anext`` would end the generator)."""

    def __init__(self, watch: AsyncIterator[str | None]) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._pump(watch))

    async def _pump(self, watch: AsyncIterator[str | None]) -> None:
        async for item in watch:
            self.queue.put_nowait(item)

    async def until(self, name: str, within: float) -> list[str | None]:
        """Everything yielded up to and including ``name``; fails after ``within`` seconds."""
        seen: list[str | None] = []

        async def collect() -> None:
            while not seen or seen[-1] != name:
                seen.append(await self.queue.get())

        await asyncio.wait_for(collect(), within)
        return seen

    async def settle(self, quiet: float = 0.3) -> None:
        """Drop what was yielded so far, once nothing came for ``quiet`` seconds."""
        while True:
            await asyncio.sleep(quiet)
            if self.queue.empty():
                return
            while not self.queue.empty():
                self.queue.get_nowait()


async def live_watch(probe: ContainerProbe, canary: Any) -> Watching:
    """A started watch, proven live (it saw ``canary`` restart), with nothing pending."""
    watching = Watching(probe.watch())
    await asyncio.sleep(0)
    await asyncio.to_thread(canary.restart, timeout=1)
    await watching.until(canary.name, 5)
    await watching.settle()
    return watching


@pytest.mark.integration
@pytest.mark.asyncio
async def test_watch_yields_within_two_seconds_of_kill(run_container: Any, unique: str) -> None:
    """docker kill of a selected container is yielded at once; others are not."""
    target = run_container(labels={"run": unique})
    canary = run_container(labels={"run": unique})
    outsider = run_container()
    probe = ContainerProbe({"labels": {"run": unique}})
    watching = await live_watch(probe, canary)
    await asyncio.to_thread(outsider.kill)
    await asyncio.to_thread(target.kill)
    assert await watching.until(target.name, 2.0) == [target.name]
    await probe.close()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_watch_yields_on_health_change(
    run_container: Any, unique: str, wait_until: Any, container_state: Any
) -> None:
    """A container turning unhealthy is yielded by the watch."""
    target = run_container(
        "sh",
        "-c",
        "touch /tmp/ok; exec sleep 3600",
        healthcheck=HEALTHCHECK,
        labels={"run": unique},
    )
    canary = run_container(labels={"run": unique})
    wait_until(lambda: container_state(target)["Health"]["Status"] == "healthy", what="healthy")
    probe = ContainerProbe({"labels": {"run": unique}})
    watching = await live_watch(probe, canary)
    await asyncio.to_thread(target.exec_run, ["rm", "/tmp/ok"])
    assert await watching.until(target.name, 5) == [target.name]
    assert container_state(target)["Health"]["Status"] == "unhealthy"
    await probe.close()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_close_stops_the_watch_promptly(run_container: Any) -> None:
    """close() ends the watch generator and its thread."""
    container = run_container()
    probe = ContainerProbe({"name": container.name})
    watching = Watching(probe.watch())
    await asyncio.sleep(0.2)
    assert any(t.name == "medic-docker-events" for t in threading.enumerate())
    await asyncio.wait_for(probe.close(), 2)
    await asyncio.wait_for(watching.task, 2)
    assert not any(t.name == "medic-docker-events" for t in threading.enumerate())


@pytest.mark.integration
@pytest.mark.asyncio
async def test_follower_reconnects_and_replays_after_a_break(run_container: Any) -> None:
    """A broken real stream is reopened; what happened meanwhile is replayed after a None."""
    target = run_container()
    opened: list[EventStream] = []
    first_open = threading.Event()

    def recording(since: int | None) -> EventStream:
        stream = open_container_events(since)
        opened.append(stream)
        first_open.set()
        return stream

    follower = EventFollower(recording)
    events = follower.events()
    pending = asyncio.ensure_future(anext(events))
    assert await asyncio.to_thread(first_open.wait, 5)
    opened[0].close()  # the connection drops, as when dockerd restarts
    await asyncio.to_thread(target.kill)  # while disconnected (reconnect waits 0.5 s)
    # First what the first stream replayed (the target's start), then None, then the kill.
    event = await asyncio.wait_for(pending, 5)
    while event is not None:
        event = await next_item(events, 5)
    while True:
        event = await next_item(events, 5)
        assert event is not None
        if event["Action"] == "die" and event["Actor"]["ID"] == target.id:
            break
    assert len(opened) == 2
    await events.aclose()
    assert follower.running is False


class FakeStream:
    """Yields its events, then ends (a broken connection) or blocks until closed."""

    def __init__(self, events: list[dict[str, Any]], *, hold: bool = False) -> None:
        self.events = events
        self.hold = hold
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.events
        if self.hold:
            self.closed.wait(10)

    def close(self) -> None:
        self.closed.set()


@pytest.mark.asyncio
async def test_follower_backs_off_and_resets() -> None:
    """Failed connects back off doubling to the cap; a working stream resets the delay."""
    script: list[Any] = [
        ConnectionError("refused"),
        ConnectionError("refused"),
        ConnectionError("refused"),
        ConnectionError("refused"),
        FakeStream([{"Action": "die", "time": 2_000_000_000}]),
        FakeStream([{"Action": "start", "time": 2_000_000_001}], hold=True),
    ]
    asked: list[int | None] = []

    def open_stream(since: int | None) -> EventStream:
        asked.append(since)
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step  # type: ignore[no-any-return]

    follower = EventFollower(open_stream, min_backoff=0.01, max_backoff=0.04)
    events = follower.events()
    with capture_logs() as logs:
        received = [await next_item(events, 2) for _ in range(3)]
        await events.aclose()
    assert received == [
        {"Action": "die", "time": 2_000_000_000},
        None,
        {"Action": "start", "time": 2_000_000_001},
    ]
    delays = [entry["retry_in"] for entry in logs if "retry_in" in entry]
    assert delays == [0.01, 0.02, 0.04, 0.04, 0.01]
    assert asked[-1] == 2_000_000_000  # reconnects ask for what came after the last event
    assert follower.running is False


def test_follower_defaults() -> None:
    """The engine stream is retried from 0.5 s, doubling up to 10 s."""
    follower = EventFollower(open_container_events)
    assert (follower.min_backoff, follower.max_backoff) == (0.5, 10.0)


def test_wants_only_state_changes_of_selected_containers() -> None:
    """Only die/oom/kill/stop/start/restart/health_status of selected containers count."""
    probe = ContainerProbe({"labels": {"app": "web"}})

    def event(action: str, name: str = "web-1", **labels: str) -> dict[str, Any]:
        attributes = {"name": name, "image": "x", **labels}
        return {"Action": action, "Actor": {"ID": "ab" * 32, "Attributes": attributes}}

    assert probe.wants(event("die", app="web")) == "web-1"
    assert probe.wants(event("health_status: unhealthy", app="web")) == "web-1"
    assert probe.wants(event("oom", app="web")) == "web-1"
    assert probe.wants(event("exec_start: sh", app="web")) is None
    assert probe.wants(event("die", app="db")) is None
    assert probe.wants(event("die", app="web", **{"medic.ignore": "true"})) is None
