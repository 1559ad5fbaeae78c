"""The series notation of `medic test`."""

from __future__ import annotations

import pytest

from medic.policytest.series import FAIL, MISSING, SeriesError, parse_series


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("0+10x3", [0, 10, 20, 30]),
        ("100-25x2", [100, 75, 50]),
        ("90x2", [90, 90, 90]),
        ("1.5 2.5", [1.5, 2.5]),
        ("falsex2 true", [False, False, False, True]),
        ("_ _x2 fail failx1", [MISSING, MISSING, MISSING, FAIL, FAIL]),
        ("running stopped", ["running", "stopped"]),
        ("'fail' '_' 'x'", ["fail", "_", "x"]),
        (95, [95]),
        (True, [True]),
    ],
)
def test_notation_expands(text: object, readings: list[object]) -> None:
    """Each form expands to the readings the docs promise."""
    assert list(parse_series(text).readings) == readings


def test_past_its_end_a_series_keeps_its_last_reading() -> None:
    """Step 10 of a three-reading series reads the third."""
    series = parse_series("1 2 3")
    assert series.at(10) == 3 and series.at(0) == 1


@pytest.mark.parametrize(
    ("text", "message", "part"),
    [
        ("0+1x99999999", "a run repeats at most 100000 times", "0+1x99999999"),
        ("1e400", "readings must be finite numbers", "1e400"),
        ("", "a series needs at least one reading", ""),
        ("5x60000 5x60000", "a series has at most 100000 readings", "5x60000"),
    ],
)
def test_bad_series_say_what_and_where(text: str, message: str, part: str) -> None:
    """Huge runs, infinities and empty series are errors naming the offending part."""
    with pytest.raises(SeriesError) as caught:
        parse_series(text)
    assert (str(caught.value), caught.value.part) == (message, part)
