"""The ``history:`` section of the agent config: how much of what probes measured is kept.

```yaml
history:
  keep: 7d          # the recording `medic backtest` replays (1h to 31d; default 7d)
  per_minute: 600   # measurements recorded per policy per minute at most (0: none)
```

Samples a window function needs are kept as long as the longest window of a loaded
policy, whatever ``keep`` says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medic.durations import PATTERN as DURATION_PATTERN
from medic.durations import parse_duration
from medic.errors import ConfigError

MIN_KEEP = 3600.0
MAX_KEEP = 31 * 86400.0
MAX_PER_MINUTE = 10_000

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "What probes measured, kept for windows after a restart and for"
    " `medic backtest`.",
    "properties": {
        "keep": {
            "type": ["string", "number"],
            "pattern": DURATION_PATTERN,
            "description": "How long the recording is kept (1h to 31d).",
        },
        "per_minute": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_PER_MINUTE,
            "description": "Measurements recorded per policy per minute at most; 0 records none.",
        },
    },
}


@dataclass(frozen=True)
class HistoryOptions:
    keep: float = 7 * 86400.0
    per_minute: int = 600


def parse_history_options(raw: Mapping[str, Any], file: str) -> HistoryOptions:
    """The section, already schema-checked; the bounds of ``keep`` are checked here."""
    keep = parse_duration(raw.get("keep", HistoryOptions.keep))
    if not MIN_KEEP <= keep <= MAX_KEEP:
        raise ConfigError(
            f"history.keep is {raw.get('keep')}: it must be between 1h and 31d",
            file=file,
            hint="e.g. keep: 7d",
        )
    return HistoryOptions(keep=keep, per_minute=int(raw.get("per_minute", 600)))
