"""The Nagios plugin output convention: status from the exit code, text, perfdata.

A check prints ``TEXT | PERFDATA`` on its first line, optional long text on the next
lines, and may continue perfdata after a ``|`` inside the long text (everything after
that bar, across lines, is perfdata). Each perfdata item is
``'label'=value[UOM];[warn];[crit];[min];[max]``: the label is quoted when it holds
spaces (a quote inside is doubled), trailing empty ``;`` parts may be left out, and a
value of ``U`` means "could not be determined".

Parsing is lenient on purpose: a malformed item is reported in ``malformed`` and
skipped, never a reason to lose the check's status.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

STATUS_BY_EXIT_CODE = {0: "ok", 1: "warning", 2: "critical", 3: "unknown"}

Number = int | float

_ITEM = re.compile(
    r"""
    (?: '(?P<quoted>(?:[^']|'')+)' | (?P<label>[^\s'=]+) )
    =
    (?P<value>U|[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
    (?P<uom>[a-zA-Z%]*)
    (?:;(?P<warn>[^\s;]*))?
    (?:;(?P<crit>[^\s;]*))?
    (?:;(?P<min>[^\s;]*))?
    (?:;(?P<max>[^\s;]*))?
    ;*
    (?=\s|$)
    """,
    re.VERBOSE,
)
_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class PerfDatum:
    """One perfdata item. Thresholds stay text when they are ranges (``10:20``, ``@5``)."""

    label: str
    value: Number | None
    uom: str = ""
    warn: Number | str | None = None
    crit: Number | str | None = None
    min: Number | None = None
    max: Number | None = None


@dataclass(frozen=True)
class PluginOutput:
    """A check's stdout split into its parts."""

    text: str
    long_text: str
    perfdata: tuple[PerfDatum, ...]
    malformed: tuple[str, ...] = ()


def status_for(exit_code: int | None) -> str:
    """``ok``/``warning``/``critical``/``unknown``; any other code (or none) is unknown."""
    if exit_code is None:
        return "unknown"
    return STATUS_BY_EXIT_CODE.get(exit_code, "unknown")


def _number(text: str) -> Number:
    value = float(text)
    if value.is_integer() and not any(c in text for c in ".eE"):
        return int(text)
    return value


def _threshold(text: str | None) -> Number | str | None:
    if not text:
        return None
    return _number(text) if _NUMBER.fullmatch(text) else text


def _bound(text: str | None) -> Number | None:
    return _number(text) if text and _NUMBER.fullmatch(text) else None


def parse_perfdata(text: str) -> tuple[list[PerfDatum], list[str]]:
    """Every well-formed item in ``text``, and the malformed tokens that were skipped."""
    items: list[PerfDatum] = []
    malformed: list[str] = []
    pos, end = 0, len(text)
    while pos < end:
        if text[pos].isspace():
            pos += 1
            continue
        match = _ITEM.match(text, pos)
        if match is None:
            stop = pos
            while stop < end and not text[stop].isspace():
                stop += 1
            malformed.append(text[pos:stop])
            pos = stop
            continue
        quoted = match.group("quoted")
        label = quoted.replace("''", "'") if quoted is not None else match.group("label")
        raw = match.group("value")
        items.append(
            PerfDatum(
                label=label,
                value=None if raw == "U" else _number(raw),
                uom=match.group("uom"),
                warn=_threshold(match.group("warn")),
                crit=_threshold(match.group("crit")),
                min=_bound(match.group("min")),
                max=_bound(match.group("max")),
            )
        )
        pos = match.end()
    return items, malformed


def parse_output(stdout: str) -> PluginOutput:
    """Split a check's stdout into text, long text and perfdata."""
    first, _, rest = stdout.strip("\n").partition("\n")
    text, _, perf = first.partition("|")
    long_text, bar, more_perf = rest.partition("|")
    if bar:
        # Perfdata after a bar in the long text may run on to the following lines.
        perf = f"{perf} {more_perf}"
    items, malformed = parse_perfdata(perf)
    return PluginOutput(
        text=text.strip(),
        long_text=long_text.strip(),
        perfdata=tuple(items),
        malformed=tuple(malformed),
    )


def field_name(label: str) -> str:
    """A label as a condition may name it: ``'/ used'`` -> ``used``, ``5xx`` -> ``f_5xx``.

    Lower case, every run of other characters becomes ``_``, no leading or trailing
    ``_``; a name that would start with a digit (or be empty) gets an ``f_`` prefix.
    """
    name = _NOT_IDENTIFIER.sub("_", label.lower()).strip("_")
    if not name or name[0].isdigit():
        name = f"f_{name}".rstrip("_")
    return name


def perfdata_fields(perfdata: Iterable[PerfDatum], reserved: Iterable[str] = ()) -> dict[str, Any]:
    """Perfdata as fields: ``<name>`` plus ``<name>_warn|_crit|_min|_max`` where given.

    A name that collides with a ``reserved`` field (``status``, ``output`` ...) gets a
    ``perf_`` prefix; a repeated label gets ``_2``, ``_3`` ... so no value is lost.
    """
    taken = set(reserved)
    fields: dict[str, Any] = {}
    for datum in perfdata:
        base = field_name(datum.label)
        if base in taken:
            base = f"perf_{base}"
        name, n = base, 1
        while name in taken or name in fields:
            n += 1
            name = f"{base}_{n}"
        fields[name] = datum.value
        for suffix in ("warn", "crit", "min", "max"):
            extra = getattr(datum, suffix)
            if extra is not None:
                fields[f"{name}_{suffix}"] = extra
                taken.add(f"{name}_{suffix}")
    return fields
