"""Maintenance windows: a cron schedule in a time zone, and how long each window lasts.

The cron dialect and its DST rule are :mod:`medic.cron`'s (probes read it too).
"""

from __future__ import annotations

from dataclasses import dataclass

from medic.cron import CRON_HINT, ZONE_HINT, CronError, CronSchedule, local_instant, zone
from medic.policy import defaults

__all__ = ["CRON_HINT", "ZONE_HINT", "CronError", "CronSchedule", "local_instant", "zone"]


@dataclass(frozen=True)
class MaintenanceWindow:
    """From every time ``schedule`` fires in ``timezone``, for ``duration`` seconds."""

    schedule: CronSchedule
    duration: float
    timezone: str = defaults.word("maintenance.timezone")
    act: bool = defaults.flag("maintenance.act")
    reason: str = ""

    def current(self, now: float) -> tuple[float, float] | None:
        """(start, end) of the window open at ``now``, or None."""
        start = self.schedule.latest_start(now, zone(self.timezone), self.duration)
        return None if start is None else (start, start + self.duration)

    def upcoming(self, now: float) -> float | None:
        """When the next window opens after ``now``."""
        return self.schedule.next_start(now, zone(self.timezone))


# The keys a window is written with, shared by policy files and the agent config.
WINDOW_PROPERTIES: dict[str, object] = {
    "cron": {
        "type": "string",
        "minLength": 1,
        "description": "When each window opens: a cron expression (minute hour day month "
        "weekday) or @daily, @weekly, ...",
    },
    "timezone": {
        "type": "string",
        "minLength": 1,
        "description": "IANA time zone the cron expression is read in. "
        f"Default {defaults.written('maintenance.timezone')}.",
    },
    "act": {
        "type": "boolean",
        "default": defaults.written("maintenance.act"),
        "description": "Whether Medic may still act during the window (it never pages).",
    },
}
