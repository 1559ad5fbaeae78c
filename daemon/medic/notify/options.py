"""What every notifier does with its options: check them when the agent starts, read
durations, and resolve secret references only at the moment of sending.

A notifier's options come from the agent config. Each notifier type has one schema
(its class's ``schema``); :func:`notifiers_schema` embeds it in the agent config's
schema, so ``load_config`` refuses a typo with ``file:line: notifiers.<name>.<key>``,
and :func:`check_options` applies the same schema to a notifier built any other way
(``Notifier.__init__`` calls it), instead of a failed page at 03:00.
Secrets stay references until a send needs them, so a rotated secret is picked up
and no resolved value is ever kept on the notifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from medic import secrets
from medic.durations import PATTERN as DURATION_PATTERN
from medic.durations import DurationError, parse_duration
from medic.errors import ConfigError, NotifyError
from medic.schema_bounds import harden, validator_class

if TYPE_CHECKING:
    from jsonschema import ValidationError

    from medic.notify.base import Notifier
    from medic.registry import Registry

# A duration option: seconds, or text like 30s, 5m, 1h30m.
DURATION: dict[str, Any] = {"type": ["string", "number"], "pattern": DURATION_PATTERN}


def duration_schema(description: str) -> dict[str, Any]:
    """A duration option's schema, with its description."""
    return {**DURATION, "description": description}


def options_schema(cls: type[Notifier]) -> dict[str, Any]:
    """The one schema of a notifier type's options (numbers bounded), without ``type``."""
    return dict(harden(cls.schema))


def entry_schema(cls: type[Notifier]) -> dict[str, Any]:
    """One ``notifiers.<name>`` entry of the agent config: ``type`` and the options."""
    own = options_schema(cls)
    properties = {"type": {"const": cls.type_name}, **own.get("properties", {})}
    return {**own, "properties": properties, "required": ["type", *own.get("required", [])]}


def notifiers_schema(registry: Registry[type[Notifier]]) -> dict[str, Any]:
    """The agent config's ``notifiers:`` map: each entry checked by its type's schema."""
    branches = [
        {
            "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": entry_schema(cls),
        }
        for name, cls in registry.items()
    ]
    return {
        "type": "object",
        "description": "Named channels that escalate.notify refers to (docs/notifiers.md).",
        "additionalProperties": {
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"enum": registry.names(), "description": "Notifier type."}},
            "allOf": branches,
        },
    }


def check_options(cls: type[Notifier], name: str, options: Mapping[str, Any]) -> None:
    """Raise a ConfigError for the first option (in a stable order) that breaks the
    type's schema, naming ``notifiers.<name>.<key>`` and the notifier's docs."""
    validator = validator_class()(options_schema(cls))
    errors = sorted(validator.iter_errors(dict(options)), key=str)
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path)
        raise ConfigError(
            f"notifiers.{name}{'.' + where if where else ''}: {error_message(errors[0])}",
            hint=f"see docs/notifiers.md#{cls.type_name}",
        )


def error_message(error: ValidationError) -> str:
    """A schema error in words: a bad duration says what a duration looks like."""
    if error.validator == "pattern" and error.validator_value == DURATION_PATTERN:
        try:
            parse_duration(str(error.instance))
        except DurationError as exc:
            return str(exc)
    return error.message


def duration_option(options: Mapping[str, Any], key: str, default: float, *, where: str) -> float:
    """The option ``key`` in seconds (``default`` when absent); a ConfigError at ``where``."""
    try:
        return parse_duration(options.get(key, default))
    except DurationError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def resolve_secret(notifier: Notifier, what: str, ref: Mapping[str, str]) -> str:
    """The secret ``ref`` (option ``what``) now; a NotifyError that says which it was."""
    try:
        return secrets.resolve(ref)
    except secrets.SecretError as exc:
        raise NotifyError(
            f"{notifier.type_name} {notifier.name}: {what}: {exc.message}",
            hint=exc.hint,
            notifier=notifier.name,
        ) from exc
