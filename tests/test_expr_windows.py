"""Window functions in conditions: exact values, the not-yet-full rule, and load errors."""

from __future__ import annotations

import pytest

from medic.errors import ExpressionError
from medic.policy.expr import compile_expression
from medic.policy.expr_windows import WINDOW_FUNCTIONS, Window, window_value
from medic.policy.loader import load_text

POINTS = [(0.0, 4.0), (10.0, 1.0), (20.0, 3.0), (30.0, 2.0)]


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("avg", 2.5),
        ("min", 1.0),
        ("max", 4.0),
        ("delta", -2.0),
        ("increase", 1.0 + 3.0 - 1.0 + 2.0),  # each drop is a counter reset
        ("rate", 5.0 / 30.0),
        ("changes", 3.0),
        ("p50", 2.0),
        ("p90", 4.0),
        ("p95", 4.0),
        ("p99", 4.0),
        ("availability", 100.0),
    ],
)
def test_window_functions_are_exact(function: str, expected: float) -> None:
    """Each window function gives its documented value over four samples."""
    assert WINDOW_FUNCTIONS[function](POINTS) == pytest.approx(expected)


def test_percentiles_use_the_nearest_rank() -> None:
    """p50 of 1..10 is 5 and p95 is 10: a value that was really seen."""
    points = [(float(i), float(i)) for i in range(1, 11)]
    assert WINDOW_FUNCTIONS["p50"](points) == 5.0
    assert WINDOW_FUNCTIONS["p90"](points) == 9.0
    assert WINDOW_FUNCTIONS["p95"](points) == 10.0


def test_availability_is_the_share_of_true_samples() -> None:
    """Three of four samples up is 75 %."""
    assert WINDOW_FUNCTIONS["availability"]([(0, 1.0), (1, 1.0), (2, 0.0), (3, 1.0)]) == 75.0


def test_one_sample_has_no_rate_delta_or_increase() -> None:
    """A single sample says nothing about growth: null, never zero."""
    for name in ("rate", "delta", "increase"):
        assert WINDOW_FUNCTIONS[name]([(0.0, 5.0)]) is None


def test_a_window_is_null_until_its_samples_span_it() -> None:
    """changes(h[30m]) at 30 s is null with 29 minutes of samples, a number at 29.5."""
    window = Window("changes", "h", 1800.0, "changes(h[30m])")
    points = [(t, 7.0) for t in range(0, 1771, 30)]
    assert window_value(window, [p for p in points if p[0] <= 1740], 1740.0, 30.0) is None
    assert window_value(window, points, 1770.0, 30.0) == 0.0


def test_a_window_reads_only_its_own_span() -> None:
    """max(x[1m]) ignores an older spike the ring still holds for a longer window."""
    window = Window("max", "x", 60.0, "max(x[1m])")
    points = [(0.0, 99.0), *((float(t), 1.0) for t in range(30, 181, 30))]
    assert window_value(window, points, 180.0, 30.0) == 1.0


def test_a_condition_reads_the_window_value_it_is_handed() -> None:
    """The engine hands each window's value in under its text; missing is null, not false."""
    expr = compile_expression("p95(latency_ms[5m]) > 2s")
    assert expr.windows == frozenset({Window("p95", "latency_ms", 300.0, "p95(latency_ms[5m])")})
    assert expr.names == frozenset({"latency_ms"})
    assert expr.evaluate({"p95(latency_ms[5m])": 2500}) is True
    assert expr.evaluate({}) is None
    assert compile_expression("changes(h[30m]) == 0").evaluate({}) is False


def test_min_and_max_keep_their_plain_form() -> None:
    """min(a, b) is still the smaller of two values; min(a[5m]) is a window."""
    assert compile_expression("min(a, b)").evaluate({"a": 3, "b": 2}) == 2
    assert compile_expression("min(a[5m])").windows


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rate(jobs) > 1",
            "rate() reads a field over a window at column 6: expected a field and a window"
            " like latency_ms[5m]",
        ),
        (
            "rate(jobs[5]) > 1",
            "expected a duration with a unit at column 11, like 5m or 1h, found '5'",
        ),
        ("avg(x[32d]) > 1", "window 32d at column 7 is out of range: a window is 1s to 31d"),
        ("avg(x[0s]) > 1", "window 0s at column 7 is out of range: a window is 1s to 31d"),
        ("x[5m] > 1", "a window like x[5m] is read through a window function at column 1"),
        (
            "avg(labels.app[5m]) > 1",
            "a window reads a field the probe yields at its top level, not 'labels.app',"
            " at column 5",
        ),
    ],
)
def test_window_syntax_errors(text: str, message: str) -> None:
    """Every malformed window names what is wrong and where."""
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text)
    assert caught.value.message == message


POLICY = """\
version: 1
policies:
  - name: slow
    probe: {{type: host.load, every: 30s}}
    when: {when}
"""


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (
            "avg(load1[45d]) > 2",
            "p.yaml:5:21: policy 'slow': bad condition in when: window 45d is out of range:"
            " a window is 1s to 31d (hint: samples are kept in memory: a window reaches back"
            " at most 31d)",
        ),
        (
            "p95(load9[5m]) > 2",
            "p.yaml:5:15: policy 'slow': field 'load9' is not yielded by probe 'host.load';"
            " did you mean 'load5'? fields: cpus, load1, load15, load1_per_cpu, load5"
            " (hint: `medic probe host.load` runs the probe once and prints its fields)",
        ),
    ],
)
def test_window_errors_name_the_file_and_line(when: str, message: str) -> None:
    """`medic validate` reports a bad window at its file, line and column."""
    result = load_text(POLICY.format(when=when), "p.yaml")
    assert [str(e) for e in result.errors] == [message]
