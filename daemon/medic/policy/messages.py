"""Stage 2 of policy validation: JSON-Schema errors, told plainly, at the right line.

jsonschema's own messages describe the schema ("Additional properties are not allowed
('evrey' was unexpected)"); operators need the fix ("unknown key 'evrey' in probe;
did you mean 'every'? valid keys: every, timeout, type"). :func:`schema_errors`
validates one piece of a policy file and turns every error into a
:class:`~medic.errors.PolicyError` at the line and column stage 1 recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from medic.durations import HINT as DURATION_HINT
from medic.durations import PATTERN as DURATION_PATTERN
from medic.durations import DurationError, format_duration, parse_duration
from medic.errors import Location, PolicyError
from medic.policy.bounds import KEYWORD as DURATION_RANGE
from medic.policy.bounds import Span
from medic.policy.schema import NAME_PATTERN, PERCENT_PATTERN
from medic.policy.yamlpos import Document, JsonPath

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

_TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping (key: value)",
    "array": "a list",
    "null": "nothing",
}
_REQUIRED_HINTS = {
    "version": "start the file with `version: 1`",
    "policies": "list the policies under `policies:`",
    "name": "give the policy a unique name, like `name: web-memory-leak`",
    "probe": "say what to measure, like `probe: {type: host.memory}`",
    "when": "add the condition that fires the policy, like `when: percent > 90`",
    "type": "name the probe type, like `type: host.memory`",
}
STEP_HINT = "write each step as `- <action>: {options}`; a step's timeout goes inside its options"


def show(value: Any) -> str:
    """A value as an operator would recognise it in their YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def choices(word: str, valid: list[str], what: str) -> str:
    """``"; did you mean 'x'? valid keys: a, b"``; the guess only when one is close."""
    import difflib  # here: only a mistake needs a guess

    close = difflib.get_close_matches(word, valid, n=1, cutoff=0.6)
    guess = f"; did you mean {close[0]!r}? " if close else "; "
    return f"{guess}{what}: {', '.join(valid) or '(none)'}"


def label(path: JsonPath) -> str:
    """What the mapping at ``path`` is called in messages: ``probe``, ``action 'command'``."""
    if not path:
        return "the file"
    if len(path) == 2 and path[0] == "policies":
        return "policy"
    if len(path) == 5 and path[2] == "remediate":
        return f"action {path[4]!r}"
    return str(path[-1]) if isinstance(path[-1], str) else "this item"


class ErrorSource(Protocol):
    """A compiled schema: jsonschema's validator or a quickcheck ``SchemaCheck``."""

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]: ...


def schema_errors(
    validator: ErrorSource, instance: Any, base: JsonPath, doc: Document, file: str
) -> list[PolicyError]:
    """Every schema error in ``instance`` (found at ``base`` in ``doc``), as PolicyErrors."""
    out: list[PolicyError] = []
    for error in validator.iter_errors(instance):
        from jsonschema.exceptions import best_match  # only once there is an error

        leaf = best_match([error])  # descends into anyOf/oneOf to the most specific error
        out.extend(_translate(leaf, (*base, *leaf.absolute_path), doc, file))
    return out


def error_at(
    doc: Document, file: str, path: JsonPath, message: str, hint: str | None, *, key: bool = False
) -> PolicyError:
    where = doc.locate(path, key=key)
    return PolicyError(
        message,
        location=Location(file, where.line, where.column),
        policy=doc.policy_name(path),
        hint=hint,
    )


def _translate(err: ValidationError, path: JsonPath, doc: Document, file: str) -> list[PolicyError]:
    kind, schema = err.validator, _schema_of(err)
    value: Any = err.instance
    if kind == "additionalProperties" and isinstance(value, dict):
        valid = sorted(schema.get("properties", {}))
        return [
            error_at(
                doc,
                file,
                (*path, key),
                f"unknown key {key!r} in {label(path)}{choices(key, valid, 'valid keys')}",
                "check the spelling and the indentation",
                key=True,
            )
            for key in sorted(k for k in value if k not in schema.get("properties", {}))
        ]
    if kind == "required" and isinstance(value, dict):
        where = "" if label(path) == "policy" else f" in {label(path)}"
        return [
            error_at(
                doc, file, path, f"missing required key {key!r}{where}", _REQUIRED_HINTS.get(key)
            )
            for key in _expected(err)
            if key not in value
        ]
    if kind in ("minProperties", "maxProperties") and len(path) == 4 and path[2] == "remediate":
        found = ", ".join(str(k) for k in value) or "none"
        message = f"a remediation step names exactly one action; found {len(value)}: {found}"
        return [error_at(doc, file, path, message, STEP_HINT)]
    message, hint = _plain(err, path)
    return [error_at(doc, file, path, message, hint)]


def _schema_of(err: ValidationError) -> dict[str, Any]:
    return err.schema if isinstance(err.schema, dict) else {}


def _expected(err: ValidationError) -> Any:
    """The failing keyword's value in the schema (``minimum: 1`` -> 1)."""
    return err.validator_value


def _plain(err: ValidationError, path: JsonPath) -> tuple[str, str | None]:
    """Message and hint for errors about one value."""
    kind, value, expected = err.validator, err.instance, _expected(err)
    schema = _schema_of(err)
    if schema.get("pattern") == DURATION_PATTERN:
        # The form and the range of one duration can fail several keywords at once;
        # all of them say the same thing, so the file shows one message.
        span = Span.of(schema[DURATION_RANGE]) if DURATION_RANGE in schema else None
        key = path[-1] if path and isinstance(path[-1], str) else "the duration"
        return _duration(value, span, key)
    if kind == "type":
        types = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_WORDS.get(t, t) for t in types)
        hint = STEP_HINT if len(path) == 4 and path[2] == "remediate" else None
        return f"expected {wanted}, got {show(value)}", hint
    if kind == "pattern":
        return _pattern(value, expected), None
    if kind in _BOUNDS:
        return f"expected {_BOUNDS[kind]} {expected}, got {show(value)}", None
    if kind == "const" and path == ("version",):
        return (
            f"unsupported version {show(value)}; this medic reads version 1",
            "write `version: 1`",
        )
    if kind == "const":
        return f"expected {show(expected)}, got {show(value)}", None
    if kind == "enum":
        return f"{show(value)} is not one of: {', '.join(str(v) for v in expected)}", None
    if kind == "minLength" and expected == 1:
        return "expected a non-empty string", None
    return err.message, None


_BOUNDS = {
    "minimum": "at least",
    "exclusiveMinimum": "more than",
    "maximum": "at most",
    "exclusiveMaximum": "less than",
}


def _duration(value: Any, span: Span | None, key: str) -> tuple[str, str | None]:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return f"{show(value)} is not a duration: {DURATION_HINT}", None
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        return str(exc), None
    if span is None or span.fits(seconds):
        return f"{show(value)} is not a duration: {DURATION_HINT}", None
    allowed = f"{key} may be {span.describe()}"
    written = f"`{key}: {value}`"
    if seconds > span.high:
        return f"{written} is above the {format_duration(span.high)} ceiling", allowed
    if span.above and seconds <= span.low:
        return f"{written} must be more than {format_duration(span.low) if span.low else 0}", (
            f"{allowed}, like 500ms, 10s or 1m"
        )
    guess = _unit_typo(value, span)
    return f"{written} is below the {format_duration(span.low)} floor{guess}", allowed


# A duration below its floor is usually a unit typo: 1ms for 1m, or for 1s.
_LARGER_UNITS = {"ms": ("m", "s"), "s": ("m",)}


def _unit_typo(value: str | int | float, span: Span) -> str:
    """``"; did you mean `1m`?"`` when swapping the unit of ``value`` fits ``span``."""
    if not isinstance(value, str):
        return "; plain numbers are seconds"
    text = value.strip()
    for unit, larger in _LARGER_UNITS.items():
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            for other in larger:
                guess = text[: -len(unit)] + other
                if span.fits(parse_duration(guess)):
                    return f"; did you mean `{guess}`?"
            break
    return ""


def _pattern(value: Any, pattern: Any) -> str:
    if pattern == NAME_PATTERN:
        return (
            f"policy name {value!r} may use only lowercase letters, digits, '_', '.' and '-', "
            "and must start with a letter or digit"
        )
    if pattern == PERCENT_PATTERN:
        return (
            f"{value!r} is neither a count nor a percentage: "
            "write an integer like 2 or a percentage like '20%'"
        )
    return f"{value!r} does not have the expected form {pattern}"
