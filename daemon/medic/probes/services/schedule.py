"""The ``schedule`` probe: a job that is due at a cron time, until it ran.

Made for the runbook lines "VACUUM every Sunday night", "verify the backup each
morning", "export the audit on the first of the month": the job is a policy whose
condition is ``due``, so it goes through the same gate, limits, approvals, dry-run and
audit as any remediation, and ``finally:`` steps can leave maintenance mode whatever
happened.

``due`` turns true at each occurrence and stays true until the policy's steps ran for
it (the engine tells the probe, :meth:`~medic.probes.base.Probe.acted`) or its
``window`` ended: verification then sees ``due`` false and the incident heals. An
occurrence missed while the agent was down runs once at start if its window is still
open; older ones are not run. The probe wakes the runner at the occurrence
(``watch()``), so a job starts on time without a fast poll.

Which occurrence ran, and when, is kept in the agent's state directory
(:mod:`medic.probes.probestate`), one file per policy and schedule, so an agent
restarted inside the window does not run the job again for it.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.cron import CRON_HINT, ZONE_HINT, CronError, CronSchedule, zone
from medic.durations import DurationError, parse_duration
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.logsetup import get_logger
from medic.option_schemas import duration, options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.probestate import StateFile, state_file

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

log = get_logger("medic.probes.services.schedule")

FIELDS = (
    Field("due", "boolean", "An occurrence came and the job has not run for it yet."),
    Field("occurrence", "number", "The latest occurrence, unix seconds (null if none)."),
    Field("late", "number", "Seconds since the occurrence while due (else null).", "seconds"),
    Field("next", "number", "The next occurrence, unix seconds (null if none)."),
)
DEFAULT_WINDOW = 3600.0
# A little past the occurrence, so the reading taken on waking sees it as come.
WAKE_SLACK = 0.05


def latest(
    now: float, *, cron: CronSchedule | None, tz: str, interval: float | None, window: float
) -> float | None:
    """The latest occurrence at or before ``now`` whose window is still open, if any.

    ``interval`` occurrences fall on multiples of it since the epoch (every 10m: :00,
    :10, ...), so a restart does not move them.
    """
    if interval is not None:
        start = now - now % interval
        return start if now - start < window else None
    assert cron is not None
    return cron.latest_start(now, zone(tz), window)


def upcoming(
    now: float, *, cron: CronSchedule | None, tz: str, interval: float | None
) -> float | None:
    """The first occurrence strictly after ``now``."""
    if interval is not None:
        return now - now % interval + interval
    assert cron is not None
    return cron.next_start(now, zone(tz))


@probes.register("schedule")
class ScheduleProbe(Probe):
    """A scheduled job: ``due`` from each cron occurrence until the policy's steps ran.

    One target, ``job`` (or the name given). ``window`` (default 1h) is how long an
    occurrence stays due if the job cannot run (limits, approval, a failing probe);
    ``interval`` instead of ``cron`` is for tests and short jobs.

    ```yaml
    version: 1
    policies:
      - name: weekly-vacuum
        description: VACUUM ANALYZE on Sunday night, always leaving maintenance mode.
        probe: {type: schedule, cron: "0 3 * * SUN", timezone: Europe/Berlin, window: 2h}
        when: due
        remediate:
          - command: {argv: [/usr/local/bin/maintenance, "on"], timeout: 30s}
          - command: {argv: [psql, -c, VACUUM ANALYZE], timeout: 1h}
        finally:
          - command: {argv: [/usr/local/bin/maintenance, "off"], timeout: 30s}
        verify: {after: 10s}
        limits: {max: 1, per: 1d, cooldown: 2h}
        escalate: {notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "cron": {
                "type": "string",
                "minLength": 1,
                "description": "When the job is due: minute hour day month weekday, or @daily.",
            },
            "timezone": {
                "type": "string",
                "minLength": 1,
                "description": "IANA time zone the cron expression is read in. Default UTC.",
            },
            "interval": duration("Instead of cron: due every this long (tests, short jobs)."),
            "window": duration("How long an occurrence stays due if the job cannot run.", "1h"),
            "job": {
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9_.-]*$",
                "description": "The target's name. Default job.",
            },
        },
    )
    fields = FIELDS
    default_every = 60.0
    watches = True

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        text = options.get("cron")
        self.cron = CronSchedule.parse(text) if text else None
        self.tz = str(options.get("timezone", "UTC"))
        every = options.get("interval")
        self.interval = parse_duration(every) if every is not None else None
        default = self.interval if self.interval is not None else DEFAULT_WINDOW
        self.window = parse_duration(options.get("window", default))
        self.job = str(options.get("job", "job"))
        self.now: Callable[[], float] = time.time
        self.pending: float | None = None  # the occurrence last read as due
        self.done: float | None = None  # the occurrence the job last ran for
        self.state: StateFile | None = None
        self._loaded = False

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems = []
        if ("cron" in options) == ("interval" in options):
            problems.append("give either cron: or interval:, one of them")
        text = options.get("cron")
        if isinstance(text, str):
            try:
                CronSchedule.parse(text)
            except CronError as exc:
                problems.append(f"bad cron expression {text!r}: {exc} ({CRON_HINT})")
        name = options.get("timezone")
        if isinstance(name, str):
            try:
                zone(name)
            except CronError as exc:
                problems.append(f"{exc} ({ZONE_HINT})")
        try:
            if parse_duration(options.get("interval", 60)) <= 0:
                problems.append("interval must be longer than 0s")
            if parse_duration(options.get("window", 60)) <= 0:
                problems.append("window must be longer than 0s")
        except DurationError:
            pass  # the schema said so
        return problems

    def reading(self, now: float) -> dict[str, Any]:
        """The fields at ``now`` (pure given the job's state; tests pass the time)."""
        self._load()
        occurrence = latest(
            now, cron=self.cron, tz=self.tz, interval=self.interval, window=self.window
        )
        due = occurrence is not None and occurrence != self.done
        self.pending = occurrence if due else None
        return {
            "due": due,
            "occurrence": occurrence,
            "late": now - occurrence if due and occurrence is not None else None,
            "next": self.upcoming(now),
        }

    def upcoming(self, now: float) -> float | None:
        return upcoming(now, cron=self.cron, tz=self.tz, interval=self.interval)

    async def measure(self) -> Measurement:
        return {self.job: self.reading(self.now())}

    def acted(self, target: str, at: float) -> None:
        if target != self.job or self.pending is None:
            return
        self.done = self.pending
        if self.state is None:
            return
        try:
            self.state.save({"done": self.done, "ran_at": at})
        except ProbeError as exc:  # the run happened; only a restart may repeat it
            log.warning("schedule.state_unwritable", job=self.job, error=exc.message)

    def _load(self) -> None:
        """On the first reading: the occurrence that ran before a restart, if kept.

        The file is named for the policy too (the engine sets ``policy_name``), so two
        policies with the same schedule do not mark each other's runs done.
        """
        if self._loaded:
            return
        self._loaded = True
        owner = self.policy_name
        self.state = state_file("schedule", {**self.options, "policy": owner})
        kept = self.state.load() if self.state is not None else None
        done = kept.get("done") if isinstance(kept, dict) else None
        if isinstance(done, int | float) and not isinstance(done, bool) and math.isfinite(done):
            self.done = float(done)

    async def watch(self) -> AsyncIterator[str | None]:
        while True:
            now = self.now()
            at = self.upcoming(now)
            if at is None:  # a cron that never fires again (30 Feb): polling stays
                return
            await asyncio.sleep(max(0.0, at - now) + WAKE_SLACK)
            yield self.job
