"""Sizes, durations and times written for people: the one place that formats them.

The CLI's tables (``medic status``, ``audit``, ``silence``, ``fleet``, ``backtest``),
``medic probe``, the notification texts and the CLI's messages all call these, so a
size reads ``252.0 GiB``, a duration ``1h30m``, an age ``3m ago`` and a time
``2024-05-01T12:00:00Z`` everywhere. Times are UTC with
a ``Z`` unless the caller asks for the local zone (``--local`` on the CLI), then they
carry the offset (``2024-05-01T14:00:00+02:00``), so a time is never ambiguous.
Machine output (JSON, CSV) keeps the stored values and does not come through here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from medic.clock import parse_iso
from medic.durations import format_duration

BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
NONE = "-"


def size(value: float) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``252.0 GiB``."""
    amount = float(value)
    if not math.isfinite(amount):
        return str(value)
    for unit in BYTE_UNITS:
        if abs(amount) < 1024 or unit == BYTE_UNITS[-1]:
            return f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns


def seconds(value: float) -> str:
    """A duration like ``1h30m``; negative ones keep their sign (``-5m``)."""
    if not math.isfinite(value):
        return str(value)
    return "-" + format_duration(-value) if value < 0 else format_duration(value)


def ago(then: str | float | None, now: float) -> str:
    """``3m ago`` for a time in epoch seconds or ISO text; ``-`` when there is none."""
    if then is None or then == "":
        return NONE
    try:
        stamp = parse_iso(then) if isinstance(then, str) else float(then)
    except (TypeError, ValueError):
        return str(then)
    return age(now - stamp)


def age(gone: float) -> str:
    """``3m ago`` for something ``gone`` seconds old: the largest whole unit."""
    if not math.isfinite(gone):
        return str(gone)
    gone = max(0.0, gone)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if gone >= length:
            return f"{int(gone // length)}{unit} ago"
    return f"{int(gone)}s ago"


def moment(value: str | float | None, *, local: bool = False) -> str:
    """A time to the second: UTC with ``Z``, or the local zone with its offset."""
    if value is None or value == "":
        return NONE
    try:
        stamp = parse_iso(value) if isinstance(value, str) else float(value)
        when = datetime.fromtimestamp(stamp, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)
    if local:
        return when.astimezone().isoformat(timespec="seconds")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
