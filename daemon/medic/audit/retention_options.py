"""The ``retention:`` section of the agent config: how long the audit database keeps what.

```yaml
retention:
  max_age: 90d      # events (and ended incidents, sent notifications, ...) older than this go
  max_bytes: 1GiB   # and the oldest events go while the database holds more than this
  every: 1h         # how often pruning runs
```

Without the section nothing is ever pruned. Bounds: ``max_age`` at least 7d (the
agent reads a week of history back at start to keep its limits, see limits.md),
``max_bytes`` from 16MiB to 1TiB, ``every`` from 1m to 1d. Measurements (the
``samples`` table) have their own retention, ``history.keep``
(:mod:`medic.audit.history_options`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medic.durations import DAY, HOUR, MINUTE, Span, parse_duration
from medic.errors import ConfigError
from medic.option_schemas import duration

MAX_AGE = Span(7 * DAY, 3650 * DAY)
EVERY = Span(MINUTE, DAY)
MIN_BYTES = 16 * 1024**2
MAX_BYTES = 1024**4
_BYTE_UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
}
BYTES_PATTERN = r"^\d{1,13}(\.\d{1,6})?\s?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
_BYTES = re.compile(BYTES_PATTERN)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "How long the audit database keeps events and its other tables; "
    "without this section nothing is pruned.",
    "properties": {
        "max_age": duration("Prune events older than this.", "90d", MAX_AGE),
        "max_bytes": {
            "type": ["string", "integer"],
            "pattern": BYTES_PATTERN,
            "minimum": MIN_BYTES,
            "maximum": MAX_BYTES,
            "description": "Prune the oldest events while the database holds more than this "
            "(never events younger than 7d): bytes, or 512MiB, 1GiB, 2GB; 16MiB to 1TiB.",
        },
        "every": duration("How often pruning runs.", "1h", EVERY),
    },
}


@dataclass(frozen=True)
class RetentionOptions:
    max_age: float | None = None
    max_bytes: int | None = None
    every: float = HOUR

    @property
    def enabled(self) -> bool:
        return any(v is not None for v in (self.max_age, self.max_bytes))


def parse_bytes(value: str | int) -> int:
    """``1GiB`` -> 1073741824; a plain integer is bytes already."""
    if isinstance(value, int):
        return value
    match = _BYTES.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a size: write bytes or 512MiB, 1GiB, 2GB")
    number = value.strip()[: match.start(2)].strip()
    return int(float(number) * _BYTE_UNITS[match.group(2)])


def parse_retention(raw: Mapping[str, Any] | None, file: str) -> RetentionOptions:
    """The section, already schema-checked (durations in range); sizes checked here."""
    if not raw:
        return RetentionOptions()
    size = raw.get("max_bytes")
    max_bytes = None if size is None else parse_bytes(size)
    if max_bytes is not None and not MIN_BYTES <= max_bytes <= MAX_BYTES:
        raise ConfigError(
            f"retention.max_bytes is {size}: it must be between 16MiB and 1TiB",
            file=file,
            hint="e.g. max_bytes: 1GiB",
        )

    def seconds(key: str) -> float | None:
        value = raw.get(key)
        return None if value is None else parse_duration(value)

    return RetentionOptions(
        max_age=seconds("max_age"),
        max_bytes=max_bytes,
        every=seconds("every") or HOUR,
    )
