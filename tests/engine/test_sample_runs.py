"""Runs of steady measurements (:mod:`medic.engine.sample_runs`): when one extends, and
the row it becomes."""

from __future__ import annotations

from medic.audit.samples import MAX_RUN, readings
from medic.engine.sample_runs import SLACK, Run

T0 = 1_000_000.0


def run(fields: dict[str, object], every: float = 1.0) -> Run:
    return Run("file:abc", True, fields, every, T0)


def test_steady_measurements_on_the_beat_extend_the_run() -> None:
    """Same fields at every interval: one run, written as one row for all but the first."""
    r = run({"exists": True, "size_bytes": 10})
    assert all(
        r.extend("file:abc", True, {"exists": True, "size_bytes": 10}, T0 + k) for k in (1, 2, 3)
    )
    row = r.row("p", "/f")
    assert row is not None
    assert (row.time, row.span, row.measured, row.ticking) == (T0 + 1, 2.0, 3, ())
    assert [t for t, _ in readings(row)] == [T0 + 1, T0 + 2, T0 + 3]


def test_a_field_that_grows_with_time_ticks() -> None:
    """A file's age grows by the time elapsed: it ticks, and replays as it was measured."""
    r = run({"age": 5.0, "mtime": 7.0})
    for k in (1, 2, 3):
        assert r.extend("file:abc", True, {"age": 5.0 + k + 0.001, "mtime": 7.0}, T0 + k)
    row = r.row("p", "/f")
    assert row is not None and row.ticking == ("age",)
    assert [f["age"] for _, f in readings(row)] == [6.0, 7.0, 8.0]


def test_a_changed_value_ends_the_run() -> None:
    """A field that moved (not by the time elapsed) is a new run, not an extension."""
    r = run({"age": 5.0, "size_bytes": 10})
    assert r.extend("file:abc", True, {"age": 6.0, "size_bytes": 10}, T0 + 1)
    assert not r.extend("file:abc", True, {"age": 7.0, "size_bytes": 11}, T0 + 2)
    assert not r.extend("file:abc", True, {"age": 0.5, "size_bytes": 10}, T0 + 2)


def test_whole_numbers_never_tick() -> None:
    """An integer that grows one a second (a counter) stays exact: no run, no rounding."""
    r = run({"n": 5})
    assert not r.extend("file:abc", True, {"n": 6}, T0 + 1)


def test_a_measurement_off_the_beat_ends_the_run() -> None:
    """Later than the interval plus the slack (a missed evaluation): a new run."""
    r = run({"v": 1.5})
    assert not r.extend("file:abc", True, {"v": 1.5}, T0 + 2.0)
    assert not r.extend("file:abc", True, {"v": 1.5}, T0 + 1.0 + 2 * SLACK)
    assert r.extend("file:abc", True, {"v": 1.5}, T0 + 1.0 + SLACK / 2)


def test_a_run_is_never_longer_than_max_run() -> None:
    """At MAX_RUN the run closes, so a crash loses at most that much of the recording."""
    r = run({"v": 1.5}, every=MAX_RUN / 2)
    assert r.extend("file:abc", True, {"v": 1.5}, T0 + MAX_RUN / 2)
    assert not r.extend("file:abc", True, {"v": 1.5}, T0 + MAX_RUN)
    assert r.over(T0 + MAX_RUN)


def test_another_probe_or_kind_of_row_ends_the_run() -> None:
    """A changed probe fingerprint, or window-only fields after a recording, do not extend."""
    r = run({"v": 1.5})
    assert not r.extend("file:other", True, {"v": 1.5}, T0 + 1)
    assert not r.extend("file:abc", False, {"v": 1.5}, T0 + 1)


def test_a_run_of_one_has_no_row_to_add() -> None:
    """The first measurement was written when it came: closing it alone writes nothing."""
    assert run({"v": 1.5}).row("p", "/f") is None


def test_a_quiet_target_s_run_is_over_after_one_missed_beat() -> None:
    """The sweep can write a run as soon as its next measurement is overdue."""
    r = run({"v": 1.5})
    assert not r.over(T0 + 1.0)
    assert r.over(T0 + 1.0 + 2 * SLACK)


def test_fields_that_are_not_kept_are_passed_over_until_they_are() -> None:
    """A null or long text field does not end a run; the same field with a number does."""
    r = run({"exists": False})
    assert r.extend("file:abc", True, {"exists": False, "age": None, "log": "x" * 500}, T0 + 1)
    assert not r.extend("file:abc", True, {"exists": False, "age": 3.0}, T0 + 2)
    assert not r.extend("file:abc", True, {"age": None}, T0 + 2)


def test_later_measurements_are_held_to_the_second_one() -> None:
    """From the third on: a moved field, a stalled tick, a field now kept or gone each
    end the run; the same measurement with its age grown extends it."""
    second = {"exists": True, "age": 6.0, "mtime": 7.0, "note": None}
    r = run({"exists": True, "age": 5.0, "mtime": 7.0})
    assert r.extend("file:abc", True, second, T0 + 1)
    for changed in (
        {**second, "age": 7.0, "mtime": 8.0},
        {**second, "age": 6.0},
        {**second, "age": 7.0, "note": 1},
        {"exists": True, "age": 7.0, "mtime": 7.0},
        {**second, "age": float("nan")},
    ):
        assert not r.extend("file:abc", True, changed, T0 + 2)
    assert r.extend("file:abc", True, {**second, "age": 7.0}, T0 + 2)
