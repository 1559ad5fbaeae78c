"""The ranges every number and duration in policies and the agent config must fall in.

A value outside its range is refused when the file is validated, never discovered by
the engine: ``every: 1ms`` would launch a thousand probes a second, ``per: .nan``
would make every rate limit pass. Ranges are carried by the generated JSON Schema
(``minimum``/``maximum`` for numbers, so editors show them) and, for durations,
by the ``durationRange`` keyword that :func:`~medic.schema_bounds.validator_class`
adds to Draft 2020-12: it
checks a duration in either of its forms (``90s`` or ``90``) and is what makes a
plugin's duration options bounded without the plugin doing anything.

Non-finite numbers (YAML ``.nan``, ``.inf``) and integers beyond
:data:`MAX_NUMBER` never get this far: :mod:`medic.policy.yamlpos` refuses them
while reading the file.
"""

from __future__ import annotations

from typing import Any

from medic.durations import ANY, DAY, HOUR, KEYWORD, MINUTE, WEEK, Span
from medic.schema_bounds import MAX_NUMBER, harden, validator_class

__all__ = [
    "ANY",
    "DAY",
    "HOUR",
    "KEYWORD",
    "MAX_NUMBER",
    "MINUTE",
    "WEEK",
    "Span",
    "harden",
    "validator_class",
]


# A policy file is read whole, as a regular file of at most this size (never a FIFO or
# a device: reading one would hang the load, and a reload runs on the agent's loop).
MAX_FILE_BYTES = 16 * 1024 * 1024

# How often a probe runs: a floor of 100ms (event-driven probes are woken at once anyway;
# polling faster is a typo like 1ms for 1m), a ceiling of a day.
EVERY = Span(0.1, DAY)
# One probe run, one remediation step, one approval wait.
PROBE_TIMEOUT = Span(0.0, HOUR, above=True)
STEP_TIMEOUT = Span(0.0, HOUR, above=True)
APPROVAL_TIMEOUT = Span(0.0, WEEK, above=True)
# Rate-limit windows: the ledger remembers a week (engine/limits.py MAX_WINDOW).
PER = Span(0.0, WEEK, above=True)
COOLDOWN = Span(0.0, WEEK)
HOLD = Span(0.0, WEEK)
VERIFY_AFTER = Span(0.0, DAY)
WINDOW_DURATION = Span(0.0, WEEK, above=True)
# On-call: a level's wait since the first page, and the reminder interval.
LEVEL_AFTER = Span(0.0, WEEK, above=True)
REPEAT = Span(60.0, DAY)

# Counts.
MAX_ACTIONS = 1000
MAX_FAILURES = 1000
MAX_TARGETS = 100_000


def count(low: int, high: int, description: str, **extra: Any) -> dict[str, Any]:
    """An integer schema bounded on both sides."""
    return {
        "type": "integer",
        "minimum": low,
        "maximum": high,
        "description": f"{description} From {low} to {high}.",
        **extra,
    }
