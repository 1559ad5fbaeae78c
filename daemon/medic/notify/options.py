"""What every notifier does with its options: check them when the agent starts, read
durations, and resolve secret references only at the moment of sending.

A notifier's options come from the agent config. Checking them against the
notifier's own schema when it is built turns a typo into a ``ConfigError`` that names
``notifiers.<name>.<key>`` and the docs heading, instead of a failed page at 03:00.
Secrets stay references until a send needs them, so a rotated secret is picked up
and no resolved value is ever kept on the notifier.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from medic import secrets
from medic.durations import PATTERN as DURATION_PATTERN
from medic.durations import DurationError, parse_duration
from medic.errors import ConfigError, NotifyError
from medic.notify.base import Notifier

# A duration option: seconds, or text like 30s, 5m, 1h30m.
DURATION: dict[str, Any] = {"type": ["string", "number"], "pattern": DURATION_PATTERN}


def duration_schema(description: str) -> dict[str, Any]:
    """A duration option's schema, with its description."""
    return {**DURATION, "description": description}


def check_options(notifier: Notifier, options: Mapping[str, Any]) -> None:
    """Raise a ConfigError for the first option (in a stable order) that breaks the
    notifier's schema, naming ``notifiers.<name>.<key>`` and the notifier's docs."""
    validator = jsonschema.Draft202012Validator(notifier.schema)
    errors = sorted(validator.iter_errors(options), key=str)
    if errors:
        where = ".".join(str(p) for p in errors[0].absolute_path)
        raise ConfigError(
            f"notifiers.{notifier.name}{'.' + where if where else ''}: {errors[0].message}",
            hint=f"see docs/notifiers.md#{notifier.type_name}",
        )


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
