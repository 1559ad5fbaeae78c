"""The ``audit:`` section of the agent config: the chain's key and its checkpoints.

```yaml
audit:
  key: {file: /etc/medic/audit.key}     # default: audit.key next to audit.db, made on first start
  checkpoint:
    every: 1h                           # the chain head goes to the log this often
    url: https://audit.example.com/medic/checkpoints   # and is POSTed here (JSON)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from medic import secrets
from medic.durations import PATTERN as DURATION_PATTERN
from medic.durations import parse_duration
from medic.errors import ConfigError

MIN_EVERY = 10.0
MAX_EVERY = 7 * 86400.0

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "The audit log's hash chain: its key and where its checkpoints go.",
    "properties": {
        "key": secrets.schema(
            "The chain's HMAC key; by default audit.key next to audit.db, created on first start."
        ),
        "checkpoint": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "every": {
                    "type": ["string", "number"],
                    "pattern": DURATION_PATTERN,
                    "description": "How often the chain head is logged and sent (10s to 7d).",
                },
                "url": {
                    "type": "string",
                    "pattern": "^https?://",
                    "description": "POST each checkpoint here as JSON.",
                },
            },
        },
    },
}


@dataclass(frozen=True)
class CheckpointOptions:
    every: float = 3600.0
    url: str | None = None


@dataclass(frozen=True)
class AuditOptions:
    key: Mapping[str, str] | None = None
    checkpoint: CheckpointOptions = field(default_factory=CheckpointOptions)


def parse_audit_options(raw: Mapping[str, Any], file: str) -> AuditOptions:
    """The section, already schema-checked; bounds and the URL are checked here."""
    cp = raw.get("checkpoint", {})
    every = parse_duration(cp.get("every", 3600))
    if not MIN_EVERY <= every <= MAX_EVERY:
        raise ConfigError(
            f"audit.checkpoint.every is {cp.get('every')}: it must be between 10s and 7d",
            file=file,
            hint="e.g. every: 1h",
        )
    url = cp.get("url")
    if url is not None and not urlsplit(url).hostname:
        raise ConfigError(
            f"audit.checkpoint.url {url!r} names no host",
            file=file,
            hint="e.g. url: https://audit.example.com/checkpoints",
        )
    key = raw.get("key")
    return AuditOptions(
        key=dict(key) if key is not None else None,
        checkpoint=CheckpointOptions(every=every, url=url),
    )
