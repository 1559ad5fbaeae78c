"""``medic backtest``: a recorded day, written through the real audit store, replayed
through a changed policy set by the real command."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from medic.audit import samples as table
from medic.audit.samples import SampleRow
from medic.audit.store import AuditStore
from medic.cli import main
from medic.clock import iso
from medic.policy.loader import load_paths
from medic.policytest.replay import ReplaySimulation

DAY = 86400.0
EVERY = 30.0
POLICY = """\
version: 1
policies:
  - name: busy-host
    probe: {{type: host.load, every: 30s}}
    when: {when}
    remediate:
      - command: {{argv: ["true"]}}
    verify: {{after: 30s}}
"""


def write_policy(directory: Path, when: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "busy.yaml").write_text(POLICY.format(when=when))
    return directory


def load_of(offset: float) -> float:
    """2 all day, 6 for ten minutes from 10:00, 10 for ten minutes from 15:00."""
    hour = offset / 3600.0
    if 10.0 <= hour < 10.0 + 1 / 6:
        return 6.0
    if 15.0 <= hour < 15.0 + 1 / 6:
        return 10.0
    return 2.0


def recorded_day(start: float, probe: str) -> list[SampleRow]:
    return [
        SampleRow(
            start + k * EVERY,
            "busy-host",
            "localhost",
            probe,
            True,
            {"load1": load_of(k * EVERY), "load5": 1.0, "cpus": 4},
        )
        for k in range(int(DAY / EVERY))
    ]


async def record(db: Path, policies: Path, start: float) -> None:
    """The day as the agent would have written it: the recording, and the audit events
    the policies in ``policies`` wrote while it ran (the same engine, replayed)."""
    (policy,) = load_paths([policies]).policies
    rows = recorded_day(start, table.fingerprint(policy.probe.type, policy.probe.options))
    events = await ReplaySimulation(policy, rows, start + DAY).run()
    store = AuditStore(db, host="node1")
    await store.start()
    try:
        await store.write(lambda conn: table.insert(conn, rows))
        for event in events:
            store.emit(event)
    finally:
        await store.close()


@pytest.fixture
def day(tmp_path: Path) -> tuple[Path, float]:
    """A day recorded under `load1 > 4`, ending an hour ago."""
    start = time.time() - DAY - 3600.0
    db = tmp_path / "audit.db"
    asyncio.run(record(db, write_policy(tmp_path / "old", "load1 > 4"), start))
    return db, start


def test_a_raised_threshold_shows_the_incident_it_no_longer_fires(
    day: tuple[Path, float], tmp_path: Path
) -> None:
    """Raising the threshold from 4 to 8 drops the 10:00 incident and keeps the 15:00 one."""
    db, start = day
    new = write_policy(tmp_path / "new", "load1 > 8")
    result = CliRunner().invoke(
        main, ["backtest", "--policies", str(new), "--since", "7d", "--db", str(db)]
    )
    assert result.exit_code == 0, result.output
    ten = iso(start + 10 * 3600.0)[:19] + "Z"
    lines = result.output.splitlines()
    assert "busy-host: 2880 readings of 1 target(s)" in lines
    assert "  incidents fired        2     1   <- differs" in lines
    assert f"  only real  {ten}  fired  localhost" in lines
    assert not any(line.lstrip().startswith("only new") for line in lines)


def test_the_unchanged_policies_replay_what_really_happened(
    day: tuple[Path, float], tmp_path: Path
) -> None:
    """The policies that made the recording, replayed, differ from the real day in nothing."""
    db, _ = day
    same = write_policy(tmp_path / "same", "load1 > 4")
    result = CliRunner().invoke(main, ["backtest", "--policies", str(same), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "differs" not in result.output
    assert "  incidents fired        2     2" in result.output.splitlines()


def test_a_policy_whose_probe_changed_is_skipped_with_the_reason(
    day: tuple[Path, float], tmp_path: Path
) -> None:
    """A recording is never replayed through a different probe: the policy is skipped."""
    db, _ = day
    changed = tmp_path / "changed"
    write_policy(changed, "load1 > 8")
    path = changed / "busy.yaml"
    path.write_text(
        path.read_text().replace("host.load", "host.memory").replace("load1", "percent")
    )
    result = CliRunner().invoke(main, ["backtest", "--policies", str(changed), "--db", str(db)])
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("busy-host")]
    assert line.startswith("busy-host: skipped: its probe changed (recorded with host.load:")
    assert "now host.memory:" in line
