"""When a policy measures: on its interval, at once when its probe's ``watch()`` reports a
change, and whenever the runner asks (a verification is due, an approval came in).

Policies are spread over their first interval so a thousand do not all wake at once.
A policy that fell behind skips ahead rather than bursting; how late each scheduled
run started is the ``scheduler_lag`` metric. A broken watch stream is retried and
never stops the polling. Once stopped, the loop ends at its next turn even if a
cancellation was lost on the way, so ``stop()`` always returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import structlog

from medic.metrics import Metrics
from medic.probes.base import Probe

log = structlog.get_logger("medic.runner")

WATCH_RETRY = 5.0


class Schedule:
    """One policy's timer and watch stream, calling ``evaluate`` each time it is due."""

    def __init__(
        self,
        name: str,
        every: float,
        probe: Probe,
        metrics: Metrics,
        evaluate: Callable[[], Awaitable[None]],
    ) -> None:
        self.name = name
        self.every = every
        self.probe = probe
        self.metrics = metrics
        self.evaluate = evaluate
        self.last_lag = 0.0
        self._wake = asyncio.Event()
        self._scheduled = False
        self._stopped = False
        self._loop_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._run(), name=f"policy:{self.name}")
        if self.probe.watches:
            self._watch_task = loop.create_task(self._watch(), name=f"watch:{self.name}")

    async def stop(self) -> None:
        self._stopped = True
        self._wake.set()  # a loop that lost its cancellation still wakes up and ends
        for task in (self._loop_task, self._watch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def trigger(self) -> None:
        """Evaluate now instead of at the next interval."""
        self._wake.set()

    def _due(self) -> None:
        self._scheduled = True
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        every = self.every
        # Spread policies over their interval so a thousand do not all wake at once.
        next_due = loop.time() + random.uniform(0, min(every, 2.0))  # noqa: S311 - jitter
        while not self._stopped:
            handle = loop.call_at(next_due, self._due)
            try:
                await self._wake.wait()
            finally:
                handle.cancel()
            self._wake.clear()
            if self._stopped:
                return
            if self._scheduled:
                self._scheduled = False
                lag = max(0.0, loop.time() - next_due)
                self.last_lag = lag
                self.metrics.scheduler_lag.observe(lag)
                next_due += every
                if next_due <= loop.time():  # fell behind: skip, never burst
                    next_due = loop.time() + every
            await self.evaluate()

    async def _watch(self) -> None:
        while not self._stopped:
            try:
                async for _target in self.probe.watch():
                    self.trigger()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken event stream must not stop polling
                log.warning("probe.watch_failed", policy=self.name, error=str(exc))
            await asyncio.sleep(WATCH_RETRY)
