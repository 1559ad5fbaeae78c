"""Named groups of a log pattern as fields: ``(?P<ip>...)`` yields ``last_ip``.

The ``log``, ``container.logs`` and ``journald`` probes count lines matching a pattern;
each named group of that pattern becomes a field holding what the group matched in the
latest matching line of the window (``None`` when nothing matched, or the group took no
part). ``when:`` may then test it (``last_status == "503"``) and a step may use it as a
placeholder (``{last_ip}``), where it meets the slot's rules like every other field
(:mod:`medic.actions.placeholders`: no leading ``-``, no ``/`` in a path, URL-encoded).
Values are cut to ``MAX_CAPTURE`` characters. The groups are read once per measurement,
from the latest matching line only, with RE2 like every pattern (:mod:`medic.patterns`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from medic.errors import PatternError
from medic.patterns import Pattern, compile_pattern

PREFIX = "last_"
MAX_CAPTURE = 500
MAX_GROUPS = 20


def _names(options: Mapping[str, Any]) -> tuple[str, ...]:
    try:
        pattern = compile_pattern(
            options.get("pattern", ""), ignore_case=bool(options.get("ignore_case", True))
        )
    except PatternError:
        return ()
    return pattern.group_names


def capture_fields(options: Mapping[str, Any]) -> list[str]:
    """The fields a probe's pattern adds: ``last_<group>`` per named group."""
    return [PREFIX + name for name in _names(options)]


def capture_problems(options: Mapping[str, Any], declared: Collection[str]) -> list[str]:
    """Named groups whose field would shadow one the probe yields, or too many groups."""
    names = _names(options)
    problems = [
        f"pattern: the group (?P<{name}>...) would yield {PREFIX + name}, which the probe "
        "already yields; rename the group"
        for name in names
        if PREFIX + name in declared
    ]
    if len(names) > MAX_GROUPS:
        problems.append(f"pattern: {len(names)} named groups, at most {MAX_GROUPS} are kept")
    return problems


def captured(pattern: Pattern, line: str | None, limit: int) -> dict[str, str | None]:
    """``last_<group>`` -> what the group matched in ``line`` (None: no line, no part)."""
    names = pattern.group_names
    if not names:
        return {}
    groups = pattern.groups(line, limit) if line is not None else None
    out: dict[str, str | None] = {}
    for name in names:
        value = (groups or {}).get(name)
        out[PREFIX + name] = None if value is None else value[:MAX_CAPTURE]
    return out
