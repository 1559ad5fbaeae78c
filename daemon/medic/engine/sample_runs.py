"""Runs of steady measurements: one ``samples`` row for many (:mod:`medic.audit.samples`).

A target that measures the same at every interval is not a row each time. The first
measurement after a change is written at once, as before (a slow check's rows are as
prompt as ever, and a crash loses little); the ones after it extend an open
:class:`Run` while

- they come on the interval: the k-th within :data:`SLACK` of ``first + k * every``;
- every field is as it was, except fields that grow by the time elapsed, to within
  :data:`SLACK` (a file's ``age``; float fields only, found at the run's second
  measurement and fixed from then on);
- the run is younger than :data:`~medic.audit.samples.MAX_RUN`.

Anything else closes the run: its measurements after the first become one row
(:meth:`Run.row`) and the new measurement starts the next run. A run whose target
went quiet is closed by the keeper's sweep (:meth:`Run.over`), and every open run is
closed when the agent stops. Replayed, a run gives back each measurement within
:data:`SLACK` of when it was taken and of what it measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medic.audit.samples import MAX_RUN, SampleRow, keepable

# How far a measurement may stray from the run's beat (seconds) and a growing field from
# the time elapsed, and still extend the run.
SLACK = 0.05

_ABSENT = object()


class Run:
    """The open run of one target: its first measurement (already written) and how
    many more came on the beat with the same fields."""

    __slots__ = (
        "count", "every", "fields", "first", "last", "probe", "recorded", "second", "size",
        "steady", "ticking", "unkept",
    )  # fmt: skip
    # Set with ``ticking`` at the second measurement, to check the later ones quickly:
    # the kept fields that must not move, the names of the fields not kept, and how many.
    steady: dict[str, Any]
    unkept: tuple[str, ...]
    size: int

    def __init__(
        self, probe: str, recorded: bool, fields: Mapping[str, Any], every: float, now: float
    ) -> None:
        self.probe = probe
        self.recorded = recorded
        self.fields = fields
        self.every = every
        self.first = now
        self.second = now
        self.last = now
        self.count = 1
        self.ticking: tuple[str, ...] | None = None  # None until the second measurement

    def extend(self, probe: str, recorded: bool, fields: Mapping[str, Any], now: float) -> bool:
        """Count the measurement in the run if it continues it; False if it does not.

        ``fields`` may hold fields that are not kept (null, long text): they are passed
        over, so the hot path need not build the kept fields of a steady measurement."""
        if probe != self.probe or recorded is not self.recorded:
            return False
        elapsed = now - self.first
        if elapsed >= MAX_RUN or abs(elapsed - self.count * self.every) > SLACK:
            return False
        old = self.fields
        if self.ticking is None:
            found = _growing(old, fields, elapsed)
            if found is None:
                return False
            self.ticking = found
            self.second = now
            self.steady = {k: v for k, v in old.items() if k not in found}
            self.unkept = tuple(k for k in fields if k not in old)
            self.size = len(fields)
        elif not self._holds(fields, elapsed):
            return False
        self.last = now
        self.count += 1
        return True

    def _holds(self, new: Mapping[str, Any], elapsed: float) -> bool:
        """The same fields as at the second measurement: the steady ones unmoved, the
        ticking ones grown by ``elapsed``, the unkept ones still not keepable."""
        if len(new) != self.size or not self.steady.items() <= new.items():
            return False
        old = self.fields
        for name in self.ticking or ():
            value = new.get(name)
            if type(value) is not float or not abs(value - old[name] - elapsed) <= SLACK:
                return False  # (NaN compares false: it never extends a run)
        unkept = self.unkept
        return not unkept or all(name in new and not keepable(new[name]) for name in unkept)

    def over(self, now: float) -> bool:
        """True when no later measurement can extend the run (its target went quiet)."""
        return now - self.first >= MAX_RUN or now > self.first + self.count * self.every + SLACK

    def row(self, policy: str, target: str) -> SampleRow | None:
        """The run's measurements after the first as one row; None if there are none."""
        if self.count < 2:
            return None
        ticking = self.ticking or ()
        fields = dict(self.fields)
        for name in ticking:
            fields[name] = round(fields[name] + (self.second - self.first), 6)
        span = self.last - self.second
        row = SampleRow(self.second, policy, target, self.probe, self.recorded, fields)
        return row._replace(span=span, measured=self.count - 1, ticking=ticking)


def _growing(
    old: Mapping[str, Any], new: Mapping[str, Any], elapsed: float
) -> tuple[str, ...] | None:
    """The fields that grew by ``elapsed`` if every other kept one is unchanged, else
    None. ``new`` is the whole measurement: a field ``old`` lacks must not be keepable."""
    found: list[str] = []
    matched = 0
    for name, value in new.items():
        was = old.get(name, _ABSENT)
        if was is _ABSENT:
            if keepable(value):
                return None  # a field kept now that was not before
            continue
        matched += 1
        if value == was and type(value) is type(was):
            continue
        if type(value) is float and type(was) is float and abs(value - was - elapsed) <= SLACK:
            found.append(name)
            continue
        return None
    return tuple(found) if matched == len(old) else None
