"""When a policy measures: on its interval, at once when its probe's ``watch()`` reports a
change, and whenever the runner asks (a verification is due, an approval came in).

Policies are spread over their first interval so a thousand do not all wake at once.
Due times fall on :data:`SLOT` boundaries and the policies due in one slot share one
timer of the loop (:class:`Slots`): a thousand policies keep a few hundred timers,
not a thousand, each set once and never cancelled. Policies whose probe is cheap
(``runs_on_loop``: read on the loop in microseconds) are packed instead: one joins a
slot within its first interval that wakes others with its interval, up to
:data:`PACK` a slot, and they share every wake-up after. A daemon that wakes up pays
for it (the loop's turn, cold caches): fifty process checks a second cost a third of
the CPU in a few wake-ups that they cost in fifty. A policy that fell behind skips
ahead rather than bursting, keeping its phase; how late each scheduled run started
is the ``scheduler_lag`` metric. A broken watch stream is retried and
never stops the polling. Once stopped, the loop ends at its next turn even if a
cancellation was lost on the way, so ``stop()`` always returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import weakref
from collections.abc import Awaitable, Callable
from itertools import chain

import structlog

from medic.metrics import Metrics
from medic.probes.base import Probe

log = structlog.get_logger("medic.runner")

WATCH_RETRY = 5.0
SLOT = 0.005  # seconds; the policies due within one slot share a timer
# At most this many policies with cheap probes join one wake-up (a batch of them blocks
# the loop for about a millisecond).
PACK = 16


def slot_of(when: float) -> int:
    """The first slot that starts at or after ``when`` (a float sum a hair over a
    boundary stays on it)."""
    return math.ceil(when / SLOT - 1e-6)


class Slots:
    """One loop's shared timers: one ``call_at`` per slot with policies due in it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[int, list[Schedule]] = {}

    def add(self, slot: int, schedule: Schedule) -> None:
        waiting = self.due.get(slot)
        if waiting is None:
            self.due[slot] = waiting = []
            self.loop.call_at(slot * SLOT, self._fire, slot)
        waiting.append(schedule)

    def packed(self, slot: int, every: float, spread: tuple[int, int]) -> int:
        """The slot a policy with a cheap probe, first due at ``slot``, wakes in: one in
        ``spread`` (its first interval) that already wakes a policy with the same interval
        and has room for another, the latest before ``slot`` else the first after it (the
        two then share every wake-up); ``slot`` itself when there is none."""
        earliest, latest = spread
        for candidate in chain(range(slot, earliest - 1, -1), range(slot + 1, latest + 1)):
            waiting = self.due.get(candidate)
            if waiting and len(waiting) < PACK and any(s.every == every for s in waiting):
                return candidate
        return slot

    def _fire(self, slot: int) -> None:
        for schedule in self.due.pop(slot, ()):
            schedule.due(slot)


_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Slots] = weakref.WeakKeyDictionary()


def slots(loop: asyncio.AbstractEventLoop) -> Slots:
    found = _SLOTS.get(loop)
    if found is None:
        _SLOTS[loop] = found = Slots(loop)
    return found


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
        # A wake-up flag and the future the loop waits on: an asyncio.Event without
        # its waiter list, as this is set and waited on once per run of every policy.
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None
        self._scheduled = False
        # The slot whose timer this policy waits for, or that fired and whose run is due.
        self._slot: int | None = None
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
        self._slot = None  # a shared timer that fires later finds nothing to do
        self._wake()  # a loop that lost its cancellation still wakes up and ends
        for task in (self._loop_task, self._watch_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def trigger(self) -> None:
        """Evaluate now instead of at the next interval."""
        self._wake()

    def _wake(self) -> None:
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def due(self, slot: int) -> None:
        """The timer of ``slot`` fired: due, unless this policy has moved on since."""
        if slot == self._slot:  # kept: the loop must not set this slot's timer again
            self._scheduled = True
            self._wake()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        timers = slots(loop)
        every = self.every
        # Spread policies over their interval so a thousand do not all wake at once.
        spread = min(every, 2.0)
        jitter = random.uniform(0, spread)  # noqa: S311 - jitter
        next_due = slot_of(loop.time() + jitter) * SLOT
        if self.probe.runs_on_loop:  # cheap: woken with others, in one warm loop turn
            first = (slot_of(loop.time()), slot_of(loop.time() + spread))
            next_due = timers.packed(slot_of(next_due), every, first) * SLOT
        while not self._stopped:
            slot = slot_of(next_due)
            if self._slot != slot:  # else woken early, or it fired mid-run: its timer is set
                self._slot = slot
                timers.add(slot, self)
            if not self._woken:
                self._waiter = loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            self._woken = False
            if self._stopped:
                return
            if self._scheduled:
                self._scheduled = False
                lag = max(0.0, loop.time() - next_due)
                self.last_lag = lag
                self.metrics.scheduler_lag.observe(lag)
                next_due += every
                if next_due <= loop.time():  # fell behind: skip, never burst, keep the phase
                    next_due += every * math.ceil((loop.time() - next_due) / every + 1e-9)
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
