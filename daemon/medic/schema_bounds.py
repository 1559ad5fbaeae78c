"""How every options schema is checked: Draft 2020-12 plus ``durationRange``, and
numbers held within what a JSON number holds exactly.

The policy loader, the agent config and the notifiers all validate with
:func:`validator_class` (jsonschema is imported on its first call, so a
``medic validate`` whose files are valid never imports it); :func:`harden` gives
every number a plugin left unbounded the JSON-safe range. Nothing here knows about
policies, so plugins and the notifiers' option checks use it without depending on the
policy language.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from medic.durations import KEYWORD, DurationError, Span, parse_duration, show

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

# The largest integer a JSON number holds exactly; no policy value needs more.
MAX_NUMBER = 2**53 - 1


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
        problem = f"is above the {show(span.high)} ceiling"
    elif span.above:
        problem = f"must be more than {show(span.low)}"
    else:
        problem = f"is below the {show(span.low)} floor"
    from jsonschema.exceptions import ValidationError

    yield ValidationError(f"{instance!r} {problem} (allowed: {span.describe()})")


@functools.cache
def validator_class() -> type[Draft202012Validator]:
    """Draft 2020-12 with ``durationRange`` (jsonschema is imported on first use)."""
    from jsonschema import Draft202012Validator, validators

    # jsonschema's ``extend`` carries no annotations; the class it makes is a 2020-12 one.
    extended: type[Draft202012Validator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {KEYWORD: _check_duration}
    )
    return extended


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
