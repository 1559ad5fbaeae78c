"""Tasks that wait on simulated time, and settling the loop around them.

After each step of a simulation every task the engine started runs until it is done,
or until it waits for the simulated clock (a fleet budget's ``wait``): such a task is
*parked*, and the simulation wakes it when the clock gets there. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any


class Parking:
    def __init__(self) -> None:
        self.parked: dict[asyncio.Future[None], asyncio.Task[Any]] = {}
        self._signal = asyncio.Event()

    async def wait(self, wake: asyncio.Future[None]) -> None:
        """Park the current task until :meth:`wake` resolves ``wake``."""
        task = asyncio.current_task()
        assert task is not None
        self.parked[wake] = task
        self._signal.set()
        try:
            await wake
        finally:
            self.parked.pop(wake, None)

    def wake(self, wake: asyncio.Future[None]) -> None:
        """Resolve ``wake``: its task is busy again (the next :meth:`settle` runs it)."""
        self.parked.pop(wake, None)
        if not wake.done():
            wake.set_result(None)

    async def settle(self, tasks: Callable[[], Iterable[asyncio.Task[Any]]]) -> None:
        """Return once every task of ``tasks()`` is done or parked."""
        while True:
            parked = set(self.parked.values())
            busy = [t for t in tasks() if not t.done() and t not in parked]
            if not busy:
                return
            self._signal.clear()
            signal = asyncio.ensure_future(self._signal.wait())
            await asyncio.wait([*busy, signal], return_when=asyncio.FIRST_COMPLETED)
            signal.cancel()
