"""sd_notify without libsystemd: tell systemd that Medic is ready, reloading, stopping, alive.

The protocol is one datagram of ``KEY=VALUE`` lines to the ``AF_UNIX`` socket named in
``$NOTIFY_SOCKET`` (a path, or ``@name`` in the abstract namespace). Outside systemd
the variable is absent and every call here does nothing.

The watchdog: with ``WatchdogSec=`` in the unit, systemd sets ``$WATCHDOG_USEC`` (and
``$WATCHDOG_PID``, the process it means) and expects ``WATCHDOG=1`` at least that
often. :meth:`SystemdNotifier.start_watchdog` pings at half the interval from a task on the
event loop, so the pings stop exactly when the loop stops turning (a blocking call, a
deadlock, SIGSTOP) and systemd kills and restarts Medic.

:meth:`SystemdNotifier.from_env` removes the variables from the environment once read, so the
programs Medic starts (``systemctl``, commands) never speak to systemd in its name.
Sending never raises: a lost notification must not take the agent down.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import MutableMapping

import structlog

from medic.bounds import ascii_int

log = structlog.get_logger(__name__)

ENV_VARS = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def watchdog_usec(environ: MutableMapping[str, str], pid: int) -> int | None:
    """The watchdog interval meant for process ``pid``, or None when there is none."""
    usec = ascii_int(environ.get("WATCHDOG_USEC", ""))
    target = environ.get("WATCHDOG_PID", "")
    if not usec:
        return None
    if target and ascii_int(target) != pid:
        return None  # meant for another process (we were started by the service's main pid)
    return usec


class SystemdNotifier:
    """One service's channel to systemd; every method is a no-op without ``$NOTIFY_SOCKET``."""

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec if self.address else None
        self._sock: socket.socket | None = None
        self._ready = False
        self._reloading = False
        self._watchdog: asyncio.Task[None] | None = None
        self._failed = False

    @classmethod
    def from_env(
        cls, environ: MutableMapping[str, str] | None = None, *, unset: bool = True
    ) -> SystemdNotifier:
        """Read (and by default remove) ``$NOTIFY_SOCKET`` and the watchdog variables."""
        env = os.environ if environ is None else environ
        notifier = cls(env.get("NOTIFY_SOCKET"), watchdog_usec(env, os.getpid()))
        if unset:
            for name in ENV_VARS:
                env.pop(name, None)
        return notifier

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between pings: half of what systemd waits for."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2e6

    def send(self, *lines: str) -> bool:
        """Send one notification; True when systemd got it, False (logged) when not."""
        if self.address is None:
            return False
        address = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto("\n".join(lines).encode(), address)
        except OSError as exc:
            if not self._failed:  # say it once, not every watchdog period
                log.warning("systemd.notify_failed", socket=self.address, error=str(exc))
            self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str = "running") -> None:
        """Start-up is done: policies are loaded and the API listens."""
        self._ready = True
        self.send("READY=1", f"STATUS={status}")

    def reloading(self) -> None:
        """A reload began (only once started; the reload during start-up is start-up)."""
        if not self._ready:
            return
        self._reloading = True
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def reloaded(self, status: str = "running") -> None:
        """The reload ended: systemd considers the service ready again."""
        if not self._reloading:
            return
        self._reloading = False
        self.send("READY=1", f"STATUS={status}")

    def stopping(self) -> None:
        self.stop_watchdog()
        self.send("STOPPING=1", "STATUS=stopping")

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def alarm(self, reason: str | None, normal: str) -> None:
        """Say on the status line (``systemctl status medic``) why the agent cannot do
        its job, e.g. ``UNHEALTHY: the audit log ... cannot be written``; ``reason``
        None puts back the ``normal`` status."""
        self.status(normal if reason is None else f"UNHEALTHY: {reason}; not acting")

    def start_watchdog(self) -> asyncio.Task[None] | None:
        """Ping from the running event loop until :meth:`stop_watchdog` (None: no watchdog)."""
        interval = self.watchdog_interval
        if interval is None or self._watchdog is not None:
            return self._watchdog
        self._watchdog = asyncio.get_running_loop().create_task(
            self._ping(interval), name="sd-watchdog"
        )
        return self._watchdog

    def stop_watchdog(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _ping(self, interval: float) -> None:
        log.info("systemd.watchdog_started", interval_seconds=round(interval, 3))
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                self.send("WATCHDOG=1")
                await asyncio.sleep(interval)

    def close(self) -> None:
        self.stop_watchdog()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
