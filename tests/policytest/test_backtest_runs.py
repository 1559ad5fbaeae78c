"""A recording kept as runs (:mod:`medic.engine.sample_runs`) backtests exactly as the
same recording kept a row per measurement: a file that ages steadily, is touched, and
then changes size every second."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from medic.audit import samples as table
from medic.audit.samples import SampleRow
from medic.audit.store import AuditStore
from medic.engine.samples import PolicySamples, SampleKeeper
from medic.policy.loader import load_text
from medic.policy.model import Policy
from medic.policytest.replay import ReplaySimulation

T0 = 1_700_000_000.0
STEPS = 600
POLICY = """\
version: 1
policies:
  - name: stale-spool
    probe: {type: file, path: /var/spool/x, every: 1s}
    when: age > 90
    remediate:
      - command: {argv: ["true"]}
    verify: {after: 5s}
"""


def the_policy() -> Policy:
    result = load_text(POLICY, "p.yaml")
    assert not result.errors, result.errors
    return result.policies[0]


def measured(k: int) -> dict[str, Any]:
    """Touched at 0, 200 and 400 s; from 450 s on it grows a byte a second."""
    touched = max(t for t in (0, 200, 400) if t <= k)
    size = 10 + max(0, k - 450)
    return {
        "exists": True,
        "age": round(k - touched + 0.25, 3),
        "size_bytes": size,
        "is_dir": False,
        "mtime": T0 + touched - 0.25,
        "count": 1,
    }


async def recorded_as_runs(tmp_path: Path, policy: Policy, times: list[float]) -> list[SampleRow]:
    """The series written by the agent's recording, read back as ``medic backtest`` does."""
    store = AuditStore(tmp_path / "audit.db", host="node1")
    await store.start()
    try:
        keeper = SampleKeeper(store)
        book = PolicySamples(policy, keeper)
        for k, t in enumerate(times):
            fields = measured(k)
            fields["age"] = round(fields["age"] + (t - T0 - k), 3)  # age as of when measured
            await book.observe({"/var/spool/x": fields}, t)
        keeper.close_runs()
        await keeper.drain()
        rows: list[SampleRow] = await store.write(
            lambda conn: table.recorded_rows(conn, policy.name, 0.0, T0 + 2 * STEPS)
        )
    finally:
        await store.close()
    return rows


def one_row_each(policy: Policy, times: list[float]) -> list[SampleRow]:
    probe = table.fingerprint(policy.probe.type, policy.probe.options)
    out = []
    for k, t in enumerate(times):
        fields = measured(k)
        fields["age"] = round(fields["age"] + (t - T0 - k), 3)
        out.append(SampleRow(t, policy.name, "/var/spool/x", probe, True, fields))
    return out


async def happenings(policy: Policy, rows: list[SampleRow]) -> list[tuple[str, float]]:
    events = await ReplaySimulation(policy, rows, T0 + STEPS).run()
    return [(str(e.kind), e.time) for e in events]


@pytest.mark.asyncio
async def test_runs_replay_the_same_incidents_at_the_same_times(tmp_path: Path) -> None:
    """Fired, acted and healed at the very same times, from a fraction of the rows."""
    policy = the_policy()
    times = [T0 + k for k in range(STEPS)]
    runs = await recorded_as_runs(tmp_path, policy, times)
    old = await happenings(policy, one_row_each(policy, times))
    assert await happenings(policy, runs) == old
    assert [kind for kind, _ in old].count("incident.fired") == 3
    assert len(runs) < 150 + 20  # 450 steady seconds in a few runs, 150 that changed


@pytest.mark.asyncio
async def test_runs_of_readings_off_the_beat_replay_within_the_slack(tmp_path: Path) -> None:
    """Measured a few milliseconds late or early, each happening replays within 0.1 s."""
    policy = the_policy()
    jitter = random.Random(7)  # noqa: S311 -- a fixed, repeatable jitter, not a secret
    times = [T0 + k + jitter.uniform(0.0, 0.01) for k in range(STEPS)]
    runs = await recorded_as_runs(tmp_path, policy, times)
    old = await happenings(policy, one_row_each(policy, times))
    new = await happenings(policy, runs)
    assert [kind for kind, _ in new] == [kind for kind, _ in old]
    assert all(abs(a - b) <= 0.1 for (_, a), (_, b) in zip(new, old, strict=True))
    assert len(runs) < 150 + 20
