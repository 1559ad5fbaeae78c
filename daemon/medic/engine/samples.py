"""What the probes measured, kept per target: for window functions and for backtests.

Each runner has one :class:`PolicySamples`. After every measurement it

- adds the fields its condition's windows read (``p95(latency_ms[5m])``) to one
  bounded :class:`~medic.engine.rings.Ring` per target and field, computes every
  window and hands the values to the condition inside the measurement, under the
  window's text;
- writes the measurement to the ``samples`` table (:mod:`medic.audit.samples`) in the
  background: every keepable field at most once per interval and at most
  ``history.per_minute`` measurements a minute (the recording ``medic backtest``
  replays), and otherwise just the fields a window needs, so a restart does not blind a
  window. A steady target's measurements after the first make one row a minute, not
  one each (:mod:`medic.engine.sample_runs`).

At the first measurement the rings are refilled from the table and the open runs.
Writes are batched by one flush task per agent (:class:`SampleKeeper`) on the audit
writer's thread, so the event loop never waits for SQLite; old rows are pruned in
small batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

import structlog

from medic.audit import samples as table
from medic.audit.history_options import HistoryOptions
from medic.audit.samples import SampleRow, keepable, readings
from medic.audit.store import AuditStore
from medic.engine.rings import Ring, number, policy_windows
from medic.engine.sample_runs import Run
from medic.policy.expr_windows import window_value
from medic.policy.model import Policy
from medic.probes.base import Measurement

log = structlog.get_logger("medic.samples")

# Rows waiting for the writer at most; beyond, new ones are dropped (and counted).
MAX_PENDING = 100_000
# Rows are written this long after the first of them is queued, in one transaction.
FLUSH_DELAY = 1.0
# Retention runs this often, deleting PRUNE_BATCH rows per writer transaction.
PRUNE_EVERY = 600.0
# The runs of targets that went quiet are written at most this long after.
SWEEP_EVERY = 5.0


class SampleKeeper:
    """One per agent: the rows waiting to be written, and the reads and pruning.

    Without an audit store (``medic test``, ``medic backtest``) nothing is written or
    read: the rings still work, from the measurements of the run.
    """

    def __init__(
        self, audit: AuditStore | None = None, options: HistoryOptions | None = None
    ) -> None:
        self.audit = audit
        self.options = options or HistoryOptions()
        self._pending: list[SampleRow] = []
        self.dropped = 0
        self._flushing: asyncio.Task[None] | None = None
        # Policy name -> target -> its open run; kept here so a reload carries them on.
        self.runs: dict[str, dict[str, Run]] = {}
        self.sweep_at = -math.inf

    def policy(self, policy: Policy) -> PolicySamples:
        return PolicySamples(policy, self)

    def sweep(self, now: float) -> None:
        """Write and forget the runs no measurement can extend any more."""
        self.sweep_at = now + SWEEP_EVERY
        self._close(lambda run: run.over(now))

    def close_runs(self) -> None:
        """Write every open run (the agent is stopping)."""
        self._close(lambda run: True)

    def _close(self, done: Callable[[Run], bool]) -> None:
        rows: list[SampleRow] = []
        for policy, runs in self.runs.items():
            for target in [t for t, run in runs.items() if done(run)]:
                row = runs.pop(target).row(policy, target)
                if row is not None:
                    rows.append(row)
        self.submit(rows)

    def submit(self, rows: list[SampleRow]) -> None:
        """Queue rows; one background task writes whatever is queued, batch by batch."""
        if self.audit is None or not rows:
            return
        if len(self._pending) >= MAX_PENDING:
            self.dropped += len(rows)  # the writer is far behind: samples give way to events
            return
        self._pending.extend(rows)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        assert self.audit is not None
        await asyncio.sleep(FLUSH_DELAY)  # gather a second's rows into one transaction
        while self._pending:
            rows, self._pending = self._pending, []
            try:
                await self.audit.write(functools.partial(table.insert, rows=rows))
            except Exception as exc:  # a lost batch of samples never stops the agent
                log.warning("samples.not_written", rows=len(rows), error=str(exc))

    async def drain(self) -> None:
        """Write what is queued (before the store closes); at most a second's wait."""
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing

    async def read(self, policy: str, since: float) -> list[SampleRow]:
        if self.audit is None:
            return []
        try:
            rows: list[SampleRow] = await self.audit.write(
                lambda conn: table.window_rows(conn, policy, since)
            )
        except Exception as exc:  # start with empty windows rather than not at all
            log.warning("samples.not_read", policy=policy, error=str(exc))
            return []
        return rows or []

    async def prune_forever(self, clock: Callable[[], float], spans: Callable[[], float]) -> None:
        """Every :data:`PRUNE_EVERY`, delete rows older than ``history.keep`` plus the
        longest loaded window (``spans()``), a small batch per transaction."""
        while True:
            await asyncio.sleep(PRUNE_EVERY)
            await self.prune(clock() - self.options.keep - spans())

    async def prune(self, before: float) -> int:
        """Delete every row older than ``before``; returns how many went."""
        if self.audit is None:
            return 0
        gone = 0
        while True:
            n: int = await self.audit.write(lambda conn: table.prune(conn, before))
            gone += n
            if n < table.PRUNE_BATCH:
                return gone
            await asyncio.sleep(0.05)  # let events through between batches


class PolicySamples:
    """The rings and the recording of one policy."""

    def __init__(self, policy: Policy, keeper: SampleKeeper) -> None:
        self.name = policy.name
        self.keeper = keeper
        self.windows = policy_windows(policy)
        self.fields = frozenset(w.field for w in self.windows)
        self.span = max((w.seconds for w in self.windows), default=0.0)
        self.every = policy.probe.every
        self.probe = table.fingerprint(policy.probe.type, policy.probe.options)
        self.rings: dict[str, dict[str, Ring]] = {}
        self.runs = keeper.runs.setdefault(policy.name, {})
        self.loaded = keeper.audit is None or not self.windows
        self._recorded: dict[str, float] = {}
        self._minute = (-1, 0)  # (minute number, rows recorded in it)

    async def observe(self, measurement: Measurement, now: float) -> Measurement:
        """Keep the measurement; returns it with each target's window values added."""
        if not self.loaded:
            self.loaded = True
            rows = await self.keeper.read(self.name, now - self.span - self.every)
            unwritten = (run.row(self.name, target) for target, run in self.runs.items())
            for row in [*rows, *(row for row in unwritten if row is not None)]:
                if row.probe == self.probe:
                    for t, fields in readings(row):
                        self._add(row.target, fields, t)
        return self.observe_loaded(measurement, now)

    def observe_loaded(self, measurement: Measurement, now: float) -> Measurement:
        """:meth:`observe` once the rings are loaded (``loaded``): nothing to wait for, so
        the runner calls it directly on every later measurement, without a coroutine."""
        self.keeper.submit(self._rows(measurement, now))
        if not self.windows:
            return measurement
        out: Measurement = {}
        for target, fields in measurement.items():
            self._add(target, fields, now)
            out[target] = {**fields, **self.values(target, now)}
        self._forget(measurement, now)
        return out

    def values(self, target: str, now: float) -> dict[str, Any]:
        """Each window's value for ``target`` at ``now`` (null until it is full)."""
        rings = self.rings.get(target, {})
        out: dict[str, Any] = {}
        for window in self.windows:
            ring = rings.get(window.field)
            points = ring.points if ring is not None else []
            out[window.key] = window_value(window, points, now, self.every)
        return out

    def _add(self, target: str, fields: Mapping[str, Any], t: float) -> None:
        rings = self.rings.setdefault(target, {})
        keep_from = t - self.span - self.every
        for name in self.fields:
            value = number(fields.get(name))
            if value is not None:
                rings.setdefault(name, Ring()).add(t, value, keep_from)

    def _forget(self, seen: Mapping[str, Any], now: float) -> None:
        """Drop the rings of targets not seen for a whole window."""
        if len(self.rings) <= len(seen):
            return
        stale = now - self.span - self.every
        for target in [t for t in self.rings if t not in seen]:
            rings = self.rings[target].values()
            if max((r.points[-1][0] for r in rings if r.points), default=0.0) < stale:
                del self.rings[target]

    def _rows(self, measurement: Mapping[str, Mapping[str, Any]], now: float) -> list[SampleRow]:
        """The rows to write: recordings within the bounds, else what the windows need;
        a measurement that extends its target's run writes nothing yet.

        Fields are kept only for a target that is due a recording or whose windows need
        them; a policy with neither due keeps nothing."""
        keeper = self.keeper
        if keeper.audit is None:
            return []
        if now >= keeper.sweep_at:
            keeper.sweep(now)
        minute = self._turn(now)
        budget = keeper.options.per_minute - self._minute[1]
        if budget <= 0 and not self.fields:
            return []  # this minute's recording is full and no window needs a row
        rows: list[SampleRow] = []
        recorded, runs, probe = self._recorded, self.runs, self.probe
        spacing = self.every * 0.9
        taken = 0
        for target, fields in measurement.items():
            run = runs.get(target)
            if budget > taken and now - recorded.get(target, -math.inf) >= spacing:
                recorded[target] = now
                taken += 1
                whole = True
                if run is not None and run.extend(probe, True, fields, now):
                    continue  # steady: no kept fields to build
                kept = {k: v for k, v in fields.items() if keepable(v)}
            elif self.fields:
                whole = False
                kept = {k: fields[k] for k in self.fields if keepable(fields.get(k))}
                if run is not None and run.extend(probe, False, kept, now):
                    continue
            else:
                continue
            closed = run.row(self.name, target) if run is not None else None
            if closed is not None:
                rows.append(closed)
            runs[target] = Run(probe, whole, kept, self.every, now)
            rows.append(SampleRow(now, self.name, target, probe, whole, kept))
        if taken:
            self._minute = (minute, self._minute[1] + taken)
        return rows

    def _turn(self, now: float) -> int:
        """The minute of ``now``; a new one restarts its count and forgets targets gone."""
        minute = int(now // 60)
        if self._minute[0] != minute:
            self._minute = (minute, 0)
            old = now - 60.0 - self.every  # targets that went away
            self._recorded = {t: at for t, at in self._recorded.items() if at >= old}
        return minute
