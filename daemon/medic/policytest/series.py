"""The compact notation for a field's readings over time, one reading per interval.

Parts are separated by spaces; each is one reading or a run of them:

======================  ===============================================================
``90``, ``1.5``         a number
``true``, ``false``     a boolean
``running``             any other word: a string
``'fail'``              a word in single quotes is always a string (``'fail'``, ``'_'``)
``_``                   no reading: the field is missing at that step
``fail``                the probe fails at that step (for every field of every target)
``a+bxn``, ``a-bxn``    ``n + 1`` readings from ``a``, adding (subtracting) ``b`` each time
``axn``                 ``a`` repeated: ``n + 1`` readings (as ``a+0xn``); also
                        ``truexn`` and ``falsexn``
``_xn``, ``failxn``     ``n`` missing readings, ``n`` failures
======================  ===============================================================

``0+10x3 _ 95x1`` reads 0, 10, 20, 30, nothing, 95, 95. Past its end a series keeps
its last reading. The notation follows Prometheus' ``promtool test rules``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

# At most this many readings in one series: a typo like `0+1x1e9` is an error, not a hang.
MAX_READINGS = 100_000

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RUN = re.compile(rf"^(?P<start>{_NUMBER})(?:(?P<sign>[-+])(?P<step>{_NUMBER}))?x(?P<n>\d+)$")
_MARK_RUN = re.compile(r"^(?P<mark>_|fail)x(?P<n>\d+)$")
_BOOL_RUN = re.compile(r"^(?P<value>true|false)x(?P<n>\d+)$")


class Missing:
    """No reading at this step."""

    def __repr__(self) -> str:
        return "_"


class Failure:
    """The probe fails at this step."""

    def __repr__(self) -> str:
        return "fail"


MISSING = Missing()
FAIL = Failure()


class SeriesError(ValueError):
    """A series that does not parse; ``part`` is the offending part."""

    def __init__(self, message: str, part: str) -> None:
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class Series:
    readings: tuple[Any, ...]

    def at(self, step: int) -> Any:
        """The reading at ``step`` (0-based); past the end the last one holds."""
        if not self.readings:
            return MISSING
        return self.readings[min(step, len(self.readings) - 1)]

    def __len__(self) -> int:
        return len(self.readings)


def parse_series(text: Any) -> Series:
    """Read a series from its notation (or a lone YAML number or boolean)."""
    if isinstance(text, bool | int | float):
        return Series((_finite(text, str(text)),))
    if not isinstance(text, str):
        raise SeriesError("a series is text like `0+10x5 _ 90`", repr(text))
    out: list[Any] = []
    for part in text.split():
        out.extend(_token(part))
        if len(out) > MAX_READINGS:
            raise SeriesError(f"a series has at most {MAX_READINGS} readings", part)
    if not out:
        raise SeriesError("a series needs at least one reading", text)
    return Series(tuple(out))


def _token(part: str) -> list[Any]:
    if len(part) >= 2 and part[0] == part[-1] == "'":
        return [part[1:-1]]
    if part == "_":
        return [MISSING]
    if part == "fail":
        return [FAIL]
    if part in ("true", "false"):
        return [part == "true"]
    mark = _MARK_RUN.fullmatch(part)
    if mark:
        return [MISSING if mark["mark"] == "_" else FAIL] * _count(mark["n"], part)
    flag = _BOOL_RUN.fullmatch(part)
    if flag:
        return [flag["value"] == "true"] * (_count(flag["n"], part) + 1)
    run = _RUN.match(part)
    if run:
        start = _number(run["start"], part)
        step = _number(run["step"], part) if run["step"] else 0
        if run["sign"] == "-":
            step = -step
        n = _count(run["n"], part)
        return [_finite(start + step * i, part) for i in range(n + 1)]
    if re.fullmatch(_NUMBER, part):
        return [_number(part, part)]
    return [part]


def _count(text: str, part: str) -> int:
    if len(text) > 6 or int(text) > MAX_READINGS:
        raise SeriesError(f"a run repeats at most {MAX_READINGS} times", part)
    return int(text)


def _number(text: str, part: str) -> int | float:
    value = float(text)
    if value.is_integer() and re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return _finite(value, part)


def _finite(value: int | float, part: str) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise SeriesError("readings must be finite numbers", part)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value
