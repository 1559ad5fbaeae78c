"""The agent config's ``fleet:`` section: where etcd is, which groups this agent is in,
and where the central audit database is; its JSON Schema lives here too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medic import secrets
from medic.durations import PATTERN as DURATION_PATTERN
from medic.durations import parse_duration
from medic.errors import ConfigError

_DURATION = {"type": ["string", "number"], "pattern": DURATION_PATTERN}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "Fleet budgets and view in etcd, and the central audit database.",
    "properties": {
        "etcd": {
            "type": "array",
            "minItems": 1,
            "maxItems": 15,
            "items": {"type": "string", "pattern": "^https?://[^\\s/]+/?$", "maxLength": 300},
            "description": "Client URLs of the etcd members, like http://10.0.0.1:2379.",
        },
        "groups": {
            "type": "array",
            "maxItems": 100,
            "items": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$", "maxLength": 100},
            "description": "Fleet groups this agent belongs to (budgets with a share count "
            "their live members).",
        },
        "lease_ttl": {**_DURATION, "description": "How long a dead agent holds a slot."},
        "heartbeat": {**_DURATION, "description": "How often the agent renews its record."},
        "central_audit": {
            "type": "object",
            "additionalProperties": False,
            "required": ["dsn"],
            "properties": {
                "dsn": secrets.schema("The central PostgreSQL's postgresql:// DSN."),
                "every": {**_DURATION, "description": "How often events are shipped."},
            },
        },
    },
}


@dataclass(frozen=True)
class FleetConfig:
    etcd: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    lease_ttl: float = 15.0
    heartbeat: float = 10.0
    # A secret reference ({env: NAME} or {file: /path}) to the central PostgreSQL DSN.
    central_dsn: Mapping[str, str] | None = None
    ship_every: float = 5.0


def load_fleet(raw: Mapping[str, Any] | None, file: str) -> FleetConfig | None:
    """The ``fleet:`` section (already checked against :data:`SCHEMA`), or None."""
    if raw is None:
        return None
    central = raw.get("central_audit")
    out = FleetConfig(
        etcd=tuple(raw.get("etcd", ())),
        groups=tuple(raw.get("groups", ())),
        lease_ttl=parse_duration(raw.get("lease_ttl", 15)),
        heartbeat=parse_duration(raw.get("heartbeat", 10)),
        central_dsn=dict(central["dsn"]) if central else None,
        ship_every=parse_duration(central.get("every", 5)) if central else 5.0,
    )
    for name, value, low, high in (
        ("lease_ttl", out.lease_ttl, 3, 3600),
        ("heartbeat", out.heartbeat, 0.2, 600),
        ("central_audit.every", out.ship_every, 0.1, 3600),
    ):
        if not low <= value <= high:
            raise ConfigError(
                f"fleet.{name}: {value:g}s is out of range",
                file=file,
                hint=f"between {low:g}s and {high:g}s",
            )
    if not out.etcd and (out.groups or central is None):
        raise ConfigError(
            "fleet: etcd is not set", file=file, hint="fleet.etcd: [http://10.0.0.1:2379]"
        )
    return out
