"""``medic backtest``: the recorded readings of a period through a changed policy set.

The agent records what its probes measured (:mod:`medic.engine.samples`). A backtest
is a :class:`~medic.policytest.sim.Simulation` whose probe reads that recording at the
recorded times instead of a test's series: the real runner, state machine, limits and
escalation decide on simulated time, with every step scripted to have no effect of
its own (what the real remediation did to the world is already in the recording).
The result is compared with the audit events the real agent wrote in the same period.

Windows need history: the replay starts one longest window before the period, and
only what the new policy decides inside the period is counted. A row that holds a run
of steady measurements is replayed as the measurements it stands for.
"""

from __future__ import annotations

import bisect
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field

from medic.audit import samples as table
from medic.audit.events import AuditEvent, Kind
from medic.audit.samples import SampleRow, fields_at, reading_times
from medic.clock import iso, parse_iso
from medic.engine.rings import policy_windows
from medic.errors import Location
from medic.policy.model import Policy
from medic.policytest.sim import Simulation
from medic.policytest.spec import Case
from medic.probes.base import Measurement

# What the backtest counts, and how it names them.
COUNTED: dict[str, tuple[str, ...]] = {
    "fired": (Kind.FIRED,),
    "acted": (Kind.ACTION_STARTED, Kind.ACTION_WOULD_RUN),
    "suppressed": (Kind.SUPPRESSED,),
    "escalated": (Kind.ESCALATED,),
}
_KINDS = tuple(str(kind) for kinds in COUNTED.values() for kind in kinds)


@dataclass(frozen=True)
class Happening:
    """One counted event: when, its kind, and the target."""

    time: float
    kind: str
    target: str


@dataclass
class Outcome:
    """One policy's backtest: real and replayed happenings, or why it was skipped."""

    policy: str
    readings: int = 0
    targets: int = 0
    skipped: str | None = None
    real: list[Happening] = field(default_factory=list)
    new: list[Happening] = field(default_factory=list)

    def counts(self, side: Sequence[Happening]) -> dict[str, int]:
        return {name: sum(1 for h in side if h.kind in kinds) for name, kinds in COUNTED.items()}

    def differing(self, slack: float) -> list[tuple[str, Happening]]:
        """Incidents fired on one side with none for the same target within ``slack``."""
        real = [h for h in self.real if h.kind == Kind.FIRED]
        new = [h for h in self.new if h.kind == Kind.FIRED]
        out = [("only real", h) for h in real if not _near(h, new, slack)]
        out += [("only new", h) for h in new if not _near(h, real, slack)]
        return sorted(out, key=lambda item: (item[1].time, item[0]))


def _near(one: Happening, others: Sequence[Happening], slack: float) -> bool:
    return any(o.target == one.target and abs(o.time - one.time) <= slack for o in others)


class ReplaySimulation(Simulation):
    """A simulation whose probe reads recorded rows at their recorded times."""

    def __init__(self, policy: Policy, rows: Sequence[SampleRow], until: float) -> None:
        start = rows[0].time
        case = Case(
            name=f"backtest {policy.name}",
            policy=policy.name,
            where=Location("backtest"),
            interval=policy.probe.every,
            duration=max(until - start, 0.0),
            input={},
            healed={},
            attempts=("no_effect",),
            humans=(),
            expect=(),
            never=(),
            nothing=False,
        )
        super().__init__(case, policy, start=start)
        self.times = evaluation_times(rows, min(SAME_TIME, policy.probe.every / 4))
        self.by_target: dict[str, tuple[list[float], list[SampleRow]]] = {}
        for row in rows:
            times, kept = self.by_target.setdefault(row.target, ([], []))
            times.append(row.time)
            kept.append(row)
        # A target's last reading stands in until it is this old (a skipped recording).
        self.stale = 2 * policy.probe.every + 1.0

    def evaluation_times(self) -> Sequence[float]:
        return self.times

    def readings(self) -> Measurement:
        now = self.clock.wall()
        out: Measurement = {}
        for target, (times, rows) in self.by_target.items():
            index = bisect.bisect_right(times, now + 1e-6) - 1
            if index >= 0 and now - rows[index].end <= self.stale:
                out[target] = fields_at(rows[index], now)
        return out


# Readings of one evaluation closer than this are one evaluation: the targets of a run
# replay within a few milliseconds of the times they were measured at together.
SAME_TIME = 0.1


def evaluation_times(rows: Sequence[SampleRow], within: float) -> list[float]:
    """When the recording's readings were taken, those ``within`` seconds of the first
    of a group as one: the group's last, so every reading in it is seen."""
    out: list[float] = []
    start = -math.inf
    for t in sorted({t for row in rows for t in reading_times(row)}):
        if t - start <= within:
            out[-1] = t
        else:
            out.append(t)
            start = t
    return out


def counted(events: Sequence[AuditEvent], since: float) -> list[Happening]:
    return [
        Happening(e.time, str(e.kind), e.target or "")
        for e in events
        if str(e.kind) in _KINDS and e.time >= since
    ]


def real_happenings(
    conn: sqlite3.Connection, policy: str, since: float, until: float
) -> list[Happening]:
    """What the real agent wrote for ``policy`` in the period."""
    marks = ", ".join("?" for _ in _KINDS)
    cursor = conn.execute(
        f"SELECT time, kind, target FROM events WHERE policy = ? AND kind IN ({marks})"  # noqa: S608 -- placeholders only
        " AND time >= ? AND time <= ? ORDER BY id",
        (policy, *_KINDS, iso(since), iso(until)),
    )
    return [Happening(parse_iso(t), kind, target or "") for t, kind, target in cursor]


async def backtest(conn: sqlite3.Connection, policy: Policy, since: float, until: float) -> Outcome:
    """Replay ``policy`` over the recording of its name between ``since`` and ``until``."""
    outcome = Outcome(policy.name)
    warmup = max((w.seconds for w in policy_windows(policy)), default=0.0)
    rows = table.recorded_rows(conn, policy.name, since - warmup, until)
    if not rows:
        outcome.skipped = f"no recording of {policy.name} since {iso(since)[:19]}Z"
        return outcome
    probe = table.fingerprint(policy.probe.type, policy.probe.options)
    matching = [row for row in rows if row.probe == probe]
    if not matching:
        recorded = ", ".join(sorted({row.probe for row in rows}))
        outcome.skipped = (
            f"its probe changed (recorded with {recorded}, now {probe}): a recording"
            " replays only through the probe that took it"
        )
        return outcome
    outcome.readings = sum(1 for row in matching for t in reading_times(row) if t >= since)
    outcome.targets = len({row.target for row in matching})
    events = await ReplaySimulation(policy, matching, until).run()
    outcome.new = counted(events, since)
    outcome.real = real_happenings(conn, policy.name, since, until)
    return outcome
