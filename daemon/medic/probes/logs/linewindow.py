"""Probes that count lines matching a pattern within a recent window.

The ``log``, ``journald`` and ``container.logs`` probes share their options
(``pattern``, ``ignore_case``, ``window``, ``max_line``: :func:`pattern_options`),
their first fields (:func:`window_fields`) and their checks (:class:`MatchWindowProbe`:
the pattern compiles, its named groups are fields, the window is a duration).

The ``log`` and ``journald`` probes read what is new each run into a
:class:`~medic.probes.logs.logfollow.RunCount` stamped with the time of the run;
:class:`LineWindow` keeps the runs of the last ``window`` seconds and turns them into
the fields both probes yield: ``match_count``, ``lines``, ``last_match`` and, for each
named group of the pattern, ``last_<group>`` from the latest matching line.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from medic.durations import DurationError, parse_duration
from medic.option_schemas import duration
from medic.patterns import Pattern, compile_pattern, pattern_problem
from medic.probes.base import Field, Probe
from medic.probes.commands.capture import capture_fields, capture_problems, captured
from medic.probes.logs.logfollow import RunCount

MAX_RUNS = 100_000


def pattern_options(
    item: str, window: str, default_window: str, max_line: str | None = None
) -> dict[str, Any]:
    """``pattern``, ``window``, ``ignore_case`` and (given its text) ``max_line``, for a
    probe whose ``item`` (line, message) must contain the pattern."""
    out: dict[str, Any] = {
        "pattern": {
            "type": "string",
            "minLength": 1,
            "description": f"Regular expression (RE2 syntax) a {item} must contain.",
        },
        "window": duration(window, default_window),
        "ignore_case": {
            "type": "boolean",
            "default": True,
            "description": "Match letters in either case (default true).",
        },
    }
    if max_line is not None:
        out["max_line"] = {
            "type": "integer",
            "minimum": 1,
            "maximum": 1048576,
            "default": 4096,
            "description": max_line,
        }
    return out


def window_fields(matches: str, lines: str, last: str) -> tuple[Field, ...]:
    """``match_count``, ``lines`` and ``last_match``, with each probe's help text."""
    return (
        Field("match_count", "number", matches),
        Field("lines", "number", lines),
        Field("last_match", "string", last),
    )


def compiled(options: Mapping[str, Any]) -> Pattern:
    """The ``pattern`` option compiled, in either case unless ``ignore_case: false``."""
    return compile_pattern(options["pattern"], ignore_case=bool(options.get("ignore_case", True)))


class MatchWindowProbe(Probe):
    """A probe counting pattern matches in a window: the checks all of them make."""

    default_window: ClassVar[str] = "5m"
    # False when a window of 0s is refused (the log and journald probes count runs in it).
    empty_window: ClassVar[bool] = False

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        ignore_case = bool(options.get("ignore_case", True))
        problem = pattern_problem("pattern", options.get("pattern", ""), ignore_case=ignore_case)
        if problem is not None:
            problems.append(problem)
        problems.extend(capture_problems(options, cls.field_names()))
        try:
            seconds = parse_duration(options.get("window", cls.default_window))
            if seconds <= 0 and not cls.empty_window:
                problems.append("window must be longer than 0s.")
        except DurationError as exc:
            problems.append(f"window: {exc}")
        return problems

    @classmethod
    def option_fields(cls, options: Mapping[str, Any]) -> list[str]:
        return capture_fields(options)


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
