"""How Medic reaches the Docker Engine, shared by the container probes and actions.

One place decides where the engine is (``DOCKER_HOST``, else the default socket), keeps
one client per process for short calls (the SDK is blocking: callers run its calls with
:func:`asyncio.to_thread`), knows which container Medic itself runs in (so it never
selects or acts on it), and follows the engine's event stream across engine restarts.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from medic.lazy import lazy_module
from medic.logsetup import get_logger

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

log = get_logger(__name__)

DEFAULT_HOST = "unix:///var/run/docker.sock"
API_TIMEOUT = 30.0
POOL_SIZE = 16
HINT = "mount /var/run/docker.sock into Medic's container, or set DOCKER_HOST"
# A container labelled medic.ignore=true is never selected by a probe nor acted on.
IGNORE_LABEL = "medic.ignore"

# Engine events that change what a container measurement says ("health_status: x"
# is matched on its first part, by the engine's filter and by the probe).
STATE_EVENTS = ("die", "oom", "kill", "stop", "start", "restart", "health_status")


@functools.cache
def engine_errors() -> tuple[type[BaseException], ...]:
    """What a failed engine call raises: the SDK does not wrap every transport error.

    A function, so that importing this module does not import the Docker SDK."""
    import requests
    from docker.errors import DockerException

    return (DockerException, requests.exceptions.RequestException, OSError)


def is_true(value: str | None) -> bool:
    """A label value that says yes (``true``, any case, spaces around)."""
    return value is not None and value.strip().lower() == "true"


def engine_url() -> str:
    """Where the engine is expected, for messages."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_HOST


def unreachable(exc: BaseException) -> str:
    """One sentence saying the engine could not be reached, and why."""
    return f"cannot reach the Docker engine at {engine_url()}: {exc}"


def connect(timeout: float = API_TIMEOUT) -> Any:
    """A new client (blocking: it asks the engine which API version to speak)."""
    from docker.client import DockerClient

    return DockerClient.from_env(version="auto", timeout=timeout, max_pool_size=POOL_SIZE)


_shared_lock = threading.Lock()
_shared: dict[str, Any] = {}


def _shared_blocking() -> Any:
    with _shared_lock:
        if "client" not in _shared:
            _shared["client"] = connect()
        return _shared["client"]


async def shared_client() -> Any:
    """The process-wide :class:`DockerClient` (connects in a thread the first time)."""
    return await asyncio.to_thread(_shared_blocking)


# --- Medic's own container -------------------------------------------------------------

_CGROUP_ID = re.compile(r"docker[/-]([0-9a-f]{64})")
_MOUNT_ID = re.compile(r"/containers/([0-9a-f]{64})/(?:hostname|hosts|resolv\.conf)\s")
_SHORT_ID = re.compile(r"^[0-9a-f]{12}$")


def detect_own_container_id(
    cgroup: str, mountinfo: str, hostname: str, in_container: bool
) -> str | None:
    """The id (full, or 12-character short) of the container these texts come from.

    cgroup v1 names the container in ``/proc/self/cgroup``; with cgroup v2 and a
    private cgroup namespace only the bind mounts of ``/etc/hostname`` and friends in
    ``/proc/self/mountinfo`` still do; last comes Docker's default hostname, the
    short id, trusted only inside a container (``/.dockerenv``).
    """
    for pattern, text in ((_CGROUP_ID, cgroup), (_MOUNT_ID, mountinfo)):
        found = pattern.search(text)
        if found:
            return found.group(1)
    if in_container and _SHORT_ID.fullmatch(hostname):
        return hostname
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


@functools.cache
def own_container_id() -> str | None:
    """The container Medic runs in, or None on a host (read once per process)."""
    return detect_own_container_id(
        _read("/proc/self/cgroup"),
        _read("/proc/self/mountinfo"),
        os.environ.get("HOSTNAME", ""),
        Path("/.dockerenv").exists(),
    )


def is_own_container(container_id: str) -> bool:
    """True when ``container_id`` (full id) is the container Medic runs in."""
    own = own_container_id()
    return bool(own) and container_id.startswith(own or "")


# --- the event stream ------------------------------------------------------------------


class EventStream(Protocol):
    """What :class:`EventFollower` reads: decoded events until the stream ends."""

    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class _EngineEvents:
    """Container state events from a client of its own; closing it closes both."""

    def __init__(self, since: int | None) -> None:
        self._client = connect()
        try:
            self._stream = self._client.api.events(
                since=since,
                decode=True,
                filters={"type": "container", "event": list(STATE_EVENTS)},
            )
        except BaseException:
            self._client.close()
            raise

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._stream)

    def close(self) -> None:
        with contextlib.suppress(*engine_errors()):
            self._stream.close()
        with contextlib.suppress(*engine_errors()):
            self._client.close()


def open_container_events(since: int | None) -> EventStream:
    """Container state events (:data:`STATE_EVENTS`), replaying those since ``since``."""
    return _EngineEvents(since)


class _Ended:
    """Handed over when the follower's thread ends: the event generator returns."""


class EventFollower:
    """Follows an event stream in a thread and hands the events to the event loop.

    When the stream breaks (the engine restarted, the connection dropped) it reconnects
    with backoff (``min_backoff`` doubling up to ``max_backoff``), asks for the events
    it may have missed, and hands over ``None`` first: "something may have changed
    unseen, re-measure everything". :meth:`stop` ends the thread promptly. One follower
    serves one :meth:`events` iteration.
    """

    def __init__(
        self,
        open_stream: Callable[[int | None], EventStream],
        *,
        min_backoff: float = 0.5,
        max_backoff: float = 10.0,
    ) -> None:
        self._open = open_stream
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stream: EventStream | None = None
        self._thread: threading.Thread | None = None

    async def events(self) -> AsyncGenerator[dict[str, Any] | None, None]:
        """Events as they come; ``None`` after each reconnect. Ends once stopped."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | _Ended | None] = asyncio.Queue()

        def hand(item: dict[str, Any] | _Ended | None) -> bool:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                return False
            return True

        def follow() -> None:
            try:
                self._follow(hand)
            finally:
                hand(_Ended())

        self._thread = threading.Thread(target=follow, name="medic-docker-events", daemon=True)
        self._thread.start()
        try:
            while not isinstance(item := await queue.get(), _Ended):
                yield item
        finally:
            self.stop()
            with contextlib.suppress(RuntimeError):  # the loop's executor may be gone
                await self.aclose()

    def _follow(self, hand: Callable[[dict[str, Any] | _Ended | None], bool]) -> None:
        delay = self.min_backoff
        # Replaying from the start second loses nothing that happened while connecting.
        since = int(time.time())
        first = True
        while not self._stop.is_set():
            try:
                stream = self._open(since)
            except Exception as exc:  # any failure to connect is retried, never fatal
                log.warning("docker.events_connect_failed", error=str(exc), retry_in=delay)
            else:
                opened, opened_wall = time.monotonic(), int(time.time())
                if not self._adopt(stream) or not (first or hand(None)):
                    return
                first = False
                last = self._drain(stream, hand)
                if last is None:
                    return
                # Everything up to the break was seen, but a stream that ends at once
                # must not reconnect in a tight loop: only a lasting one resets the delay.
                since = max(since, last, opened_wall)
                if last > opened_wall or time.monotonic() - opened >= self.max_backoff:
                    delay = self.min_backoff
                log.warning("docker.events_reconnecting", retry_in=delay)
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, self.max_backoff)

    def _adopt(self, stream: EventStream) -> bool:
        """Make ``stream`` the one :meth:`stop` cuts; False (and closed) when stopping."""
        with self._lock:
            self._stream = stream
        if self._stop.is_set():
            stream.close()
            return False
        return True

    def _drain(
        self, stream: EventStream, hand: Callable[[dict[str, Any] | _Ended | None], bool]
    ) -> int | None:
        """Hand over events until the stream ends: the last event's time (0 if none), or
        None when the follower should end (stopped, or nobody listens any more)."""
        last = 0
        try:
            for event in stream:
                last = max(last, int(event.get("time") or 0))
                if not hand(event):
                    return None
        except Exception as exc:  # a broken stream is reconnected by the caller
            log.warning("docker.events_stream_broke", error=str(exc))
        finally:
            with self._lock:
                self._stream = None
            with contextlib.suppress(Exception):
                stream.close()
        return None if self._stop.is_set() else last

    def stop(self) -> None:
        """Ask the thread to end, and cut the stream it may be blocked reading."""
        self._stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()

    async def aclose(self, wait: float = 5.0) -> None:
        """Stop, and wait (in a thread, at most ``wait`` seconds) for the thread to end."""
        self.stop()
        thread = self._thread
        if thread is not None and thread.is_alive():
            await asyncio.to_thread(thread.join, wait)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
