"""The sample rings, the recording and its retention (:mod:`medic.engine.samples`)."""

from __future__ import annotations

import sqlite3
from http import HTTPStatus
from pathlib import Path

import pytest
import pytest_asyncio

from medic.audit import samples as table
from medic.audit.history_options import HistoryOptions
from medic.audit.store import AuditStore
from medic.engine.rings import MAX_POINTS, Ring
from medic.engine.samples import SWEEP_EVERY, PolicySamples, SampleKeeper
from medic.policy.loader import load_text

POLICY = """\
version: 1
policies:
  - name: height
    probe: {{type: host.load, every: {every}}}
    when: {when}
"""


def policy(when: str = "changes(load1[5m]) == 0", every: str = "30s"):  # type: ignore[no-untyped-def]
    result = load_text(POLICY.format(when=when, every=every), "p.yaml")
    assert not result.errors, result.errors
    return result.policies[0]


def test_a_ring_drops_samples_older_than_its_span() -> None:
    """Samples before ``keep_from`` go; the rest stay oldest first."""
    ring = Ring()
    for t in range(10):
        ring.add(float(t), float(t), keep_from=t - 3.0)
    assert ring.points == [(6.0, 6.0), (7.0, 7.0), (8.0, 8.0), (9.0, 9.0)]


def test_a_ring_never_holds_more_than_its_cap() -> None:
    """A 30-day window at one sample a second stays bounded: the older half thins."""
    ring = Ring()
    for t in range(MAX_POINTS * 4):
        ring.add(float(t), 1.0, keep_from=0.0)
    assert len(ring.points) <= MAX_POINTS
    assert ring.points[0][0] == 0.0 and ring.points[-1][0] == MAX_POINTS * 4 - 1
    newest = [t for t, _ in ring.points[-100:]]
    assert newest == [float(t) for t in range(MAX_POINTS * 4 - 100, MAX_POINTS * 4)]


@pytest.mark.asyncio
async def test_windows_are_null_until_full_then_computed() -> None:
    """changes(load1[5m]) at 30 s: null for the first 4.5 minutes, then 0 while flat."""
    book = PolicySamples(policy(), SampleKeeper())
    values = []
    for k in range(11):
        out = await book.observe({"host": {"load1": 1.0}}, 1000.0 + 30 * k)
        values.append(out["host"]["changes(load1[5m])"])
    assert values[:9] == [None] * 9
    assert values[9:] == [0.0, 0.0]


@pytest.mark.asyncio
async def test_only_the_fields_a_window_reads_are_kept_in_rings() -> None:
    """A ring per window field; other fields and strings get none."""
    book = PolicySamples(policy("avg(load1[5m]) > 1 and load5 > 0"), SampleKeeper())
    await book.observe({"host": {"load1": 1.0, "load5": 2.0, "name": "x"}}, 1000.0)
    assert list(book.rings["host"]) == ["load1"]


@pytest_asyncio.fixture
async def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = AuditStore(tmp_path / "audit.db", host="node1")
    await s.start()
    yield s
    await s.close()


@pytest.mark.asyncio
async def test_the_recording_is_bounded_per_interval_and_per_minute(
    store: AuditStore, tmp_path: Path
) -> None:
    """At most one recorded row per target per interval and per_minute rows a minute."""
    keeper = SampleKeeper(store, HistoryOptions(per_minute=3))
    book = PolicySamples(policy("load1 > 1", every="10s"), keeper)
    targets = {f"t{i}": {"load1": 1.0, "blob": "x" * 500} for i in range(5)}
    await book.observe(targets, 60_000.0)
    await book.observe(targets, 60_001.0)  # a triggered evaluation inside the interval
    await keeper.drain()
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        rows = conn.execute("SELECT target, recorded, fields FROM samples ORDER BY id").fetchall()
    assert rows == [(f"t{i}", 1, '{"load1":1.0}') for i in range(3)]


@pytest.mark.asyncio
async def test_rings_are_refilled_from_the_table(store: AuditStore) -> None:
    """A new runner's first measurement sees the samples an earlier one wrote."""
    keeper = SampleKeeper(store)
    first = PolicySamples(policy(), keeper)
    for k in range(10):
        await first.observe({"host": {"load1": 1.0}}, 1000.0 + 30 * k)
    await keeper.drain()
    second = PolicySamples(policy(), keeper)
    out = await second.observe({"host": {"load1": 2.0}}, 1300.0)
    assert out["host"]["changes(load1[5m])"] == 1.0


@pytest.mark.asyncio
async def test_pruning_deletes_old_rows_in_batches(store: AuditStore, tmp_path: Path) -> None:
    """Rows older than the cut go, however many, a batch at a time; newer ones stay."""
    old = [
        table.SampleRow(float(t), "p", "t", "x:1", True, {"v": t})
        for t in range(table.PRUNE_BATCH * 2 + 5)
    ]
    new = [table.SampleRow(1e6 + t, "p", "t", "x:1", True, {"v": t}) for t in range(3)]
    await store.write(lambda conn: table.insert(conn, [*old, *new]))
    gone = await SampleKeeper(store).prune(before=1e6)
    assert gone == len(old)
    with sqlite3.connect(tmp_path / "audit.db") as conn:
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] == 3


def test_nothing_is_built_when_no_row_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    """A policy without windows whose minute's recording is full builds no row at all."""
    keeper = SampleKeeper(None, HistoryOptions(per_minute=1))
    keeper.audit = object()  # type: ignore[assignment]  # rows are built, never written here
    book = PolicySamples(policy("load1 > 1", every="1s"), keeper)
    first = book._rows({"t": {"load1": 1.0}}, 60_000.0)
    assert [(r.target, r.recorded, r.fields) for r in first] == [("t", True, {"load1": 1.0})]

    def refuse(value: object) -> bool:
        raise AssertionError("a row was built")

    monkeypatch.setattr("medic.engine.samples.keepable", refuse)
    assert book._rows({"t": {"load1": 2.0}}, 60_001.0) == []


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (True, True),
        (3, True),
        (HTTPStatus.OK, True),
        (1.5, True),
        (float("nan"), False),
        (float("inf"), False),
        ("x" * 200, True),
        ("x" * 201, False),
        (None, False),
        ([1], False),
    ],
)
def test_keepable_values(value: object, kept: bool) -> None:
    """Booleans, finite numbers (int subclasses too) and short strings are kept."""
    assert table.keepable(value) is kept


@pytest.mark.asyncio
async def test_a_steady_target_is_a_few_rows_that_replay_every_measurement(
    store: AuditStore, tmp_path: Path
) -> None:
    """Two minutes of one steady value at 1 s: four rows, not 120, standing for all 120."""
    keeper = SampleKeeper(store)
    book = PolicySamples(policy("load1 > 1", every="1s"), keeper)
    for k in range(120):
        await book.observe({"host": {"load1": 1.0, "load5": 0.5}}, 60_000.0 + k)
    keeper.close_runs()
    await keeper.drain()
    rows = await store.write(lambda conn: table.window_rows(conn, "height", 0.0))
    assert [(r.time, r.measured) for r in rows] == [
        (60_000.0, 1), (60_001.0, 59), (60_060.0, 1), (60_061.0, 59)
    ]  # fmt: skip
    times = [t for row in rows for t, _ in table.readings(row)]
    assert times == [60_000.0 + k for k in range(120)]


@pytest.mark.asyncio
async def test_a_change_writes_the_run_before_it_and_the_new_value_at_once(
    store: AuditStore,
) -> None:
    """The first measurement of a new value is written at once; the steady run before it
    becomes one row when the value changes."""
    keeper = SampleKeeper(store)
    book = PolicySamples(policy("load1 > 1", every="1s"), keeper)
    for k, value in enumerate([1.0, 1.0, 1.0, 2.0]):
        await book.observe({"host": {"load1": value}}, 60_000.0 + k)
    await keeper.drain()
    rows = await store.write(lambda conn: table.window_rows(conn, "height", 0.0))
    assert [(r.time, r.measured, r.fields["load1"]) for r in rows] == [
        (60_000.0, 1, 1.0), (60_001.0, 2, 1.0), (60_003.0, 1, 2.0)
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_the_run_of_a_target_gone_quiet_is_written_by_the_sweep(
    store: AuditStore,
) -> None:
    """A target that stops being measured has its open run written within SWEEP_EVERY."""
    keeper = SampleKeeper(store)
    book = PolicySamples(policy("load1 > 1", every="1s"), keeper)
    for k in range(3):
        await book.observe({"gone": {"load1": 1.0}}, 60_000.0 + k)
    await book.observe({}, 60_000.0 + SWEEP_EVERY + 1)
    await keeper.drain()
    rows = await store.write(lambda conn: table.window_rows(conn, "height", 0.0))
    assert sum(r.measured for r in rows) == 3
    assert keeper.runs["height"] == {}


@pytest.mark.asyncio
async def test_rings_are_refilled_from_the_open_runs_too(store: AuditStore) -> None:
    """A runner made while a run is open (a reload) still sees every earlier second."""
    keeper = SampleKeeper(store)
    first = PolicySamples(policy(every="1s"), keeper)
    for k in range(400):
        await first.observe({"host": {"load1": 1.0}}, 60_000.0 + k)
    await keeper.drain()
    second = PolicySamples(policy(every="1s"), keeper)
    await second.observe({"host": {"load1": 1.0}}, 60_400.0)
    times = [t for t, _ in second.rings["host"]["load1"].points]
    assert times == [60_000.0 + k for k in range(99, 401)]
