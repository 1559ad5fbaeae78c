"""The ranges every number and duration in policies and the agent config must fall in.

A value outside its range is refused when the file is validated, never discovered by
the engine: ``every: 1ms`` would launch a thousand probes a second, ``per: .nan``
would make every rate limit pass. Ranges are carried by the generated JSON Schema
(``minimum``/``maximum`` for numbers, so editors show them) and, for durations,
by the ``durationRange`` keyword that :data:`Validator` adds to Draft 2020-12: it
checks a duration in either of its forms (``90s`` or ``90``) and is what makes a
plugin's duration options bounded without the plugin doing anything.

Non-finite numbers (YAML ``.nan``, ``.inf``) and integers beyond
:data:`MAX_NUMBER` never get this far: :mod:`medic.policy.yamlpos` refuses them
while reading the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from medic.durations import ANY, KEYWORD, DurationError, Span, parse_duration
from medic.durations import show as _show

__all__ = ["ANY", "KEYWORD", "Span"]

# The largest integer a JSON number holds exactly; no policy value needs more.
MAX_NUMBER = 2**53 - 1

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
WEEK = 7 * DAY


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


def _check_duration(
    validator: Any, keyword: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Iterator[ValidationError]:
    """``durationRange``: a duration that parses lies in the range (``pattern`` checks its form)."""
    if isinstance(instance, bool) or not isinstance(instance, str | int | float):
        return
    try:
        seconds = parse_duration(instance)
    except DurationError:
        return
    span = Span.of(keyword)
    if span.fits(seconds):
        return
    if seconds > span.high:
        problem = f"is above the {_show(span.high)} ceiling"
    elif span.above:
        problem = f"must be more than {_show(span.low)}"
    else:
        problem = f"is below the {_show(span.low)} floor"
    yield ValidationError(f"{instance!r} {problem} (allowed: {span.describe()})")


# jsonschema's ``extend`` carries no annotations; the class it makes is a Draft 2020-12 one.
Validator: type[Draft202012Validator] = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {KEYWORD: _check_duration}
)


def harden(schema: Any) -> Any:
    """A plugin's schema with every unbounded number given the JSON-safe range.

    Plugins that state their own ``minimum``/``maximum`` keep them; the rest get
    ``-MAX_NUMBER .. MAX_NUMBER`` so no option can hold a number the engine cannot use.
    """
    if isinstance(schema, list):
        return [harden(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: harden(value) for key, value in schema.items()}
    kinds = out.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    if ("number" in kinds or "integer" in kinds) and KEYWORD not in out:
        if "minimum" not in out and "exclusiveMinimum" not in out:
            out["minimum"] = -MAX_NUMBER
        if "maximum" not in out and "exclusiveMaximum" not in out:
            out["maximum"] = MAX_NUMBER
    return out
