"""Runs of a line-counting probe, added up over a recent window.

The ``log`` and ``journald`` probes read what is new each run into a
:class:`~medic.probes.logfollow.RunCount` stamped with the time of the run;
:class:`LineWindow` keeps the runs of the last ``window`` seconds and turns them into
the fields both probes yield: ``match_count``, ``lines``, ``last_match`` and, for each
named group of the pattern, ``last_<group>`` from the latest matching line.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from medic.patterns import Pattern
from medic.probes.capture import captured
from medic.probes.logfollow import RunCount

MAX_RUNS = 100_000


class LineWindow:
    """The runs within ``window`` seconds of the latest one."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.runs: deque[RunCount] = deque(maxlen=MAX_RUNS)

    def add(self, run: RunCount) -> None:
        """Keep ``run`` and let go of the runs that fell out of the window."""
        if run.last_line is not None:  # only the latest matching line's groups are read
            for older in self.runs:
                older.last_line = None
        self.runs.append(run)
        start = run.t - self.window
        while self.runs and self.runs[0].t <= start:
            self.runs.popleft()

    def fields(self, pattern: Pattern, max_line: int) -> dict[str, Any]:
        """``match_count``, ``lines``, ``last_match`` and ``last_<group>`` of the window."""
        latest = next((r for r in reversed(self.runs) if r.last_match is not None), None)
        return {
            "match_count": sum(r.matches for r in self.runs),
            "lines": sum(r.lines for r in self.runs),
            "last_match": latest.last_match if latest is not None else None,
            **captured(pattern, latest.last_line if latest is not None else None, max_line),
        }
