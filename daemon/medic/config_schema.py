"""The JSON Schema of the agent config file (``medic.yaml``), and of its matchers.

:func:`medic.config.load_config` validates a file against :data:`SCHEMA` before it
reads any value; ``medic schema --config`` prints it for editors. :data:`MATCHERS_SCHEMA`
(what a silence or maintenance window covers) is shared with the silences API.
"""

from __future__ import annotations

from typing import Any

from medic.fleet.settings import SCHEMA as FLEET_SCHEMA
from medic.policy.durations import PATTERN as DURATION_PATTERN
from medic.policy.schema import maintenance_window_schema

# A DNS name or IPv4 address, or an IPv6 address in brackets: what a Host header holds.
HOST_NAME_PATTERN = r"^([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}$|^\[[0-9A-Fa-f:.]{2,45}\]$"
_DURATION = {"type": ["string", "number"], "pattern": DURATION_PATTERN}

# What a silence or maintenance window covers: policy and target globs, exact labels.
MATCHERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "policy": {"type": "string", "minLength": 1, "description": "Policy name glob."},
        "target": {"type": "string", "minLength": 1, "description": "Target glob."},
        "labels": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "minProperties": 1,
            "description": "Policy labels that must all be equal.",
        },
    },
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "host": {"type": "string", "description": "Name of this host in the audit log."},
        "state_dir": {"type": "string", "description": "Where the audit database lives."},
        "policies": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Policy files or directories, relative to this file.",
        },
        "dry_run": {"type": "boolean", "description": "Evaluate and audit, never act."},
        "log": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "format": {"enum": ["auto", "json", "console"]},
                "level": {"enum": ["debug", "info", "warning", "error"]},
            },
        },
        "api": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "listen": {"type": "string", "description": "host:port, 127.0.0.1 by default"},
                "enabled": {"type": "boolean"},
                "token_env": {"type": "string"},
                "token_file": {"type": "string"},
                "public_url": {"type": "string"},
                "allowed_hosts": {
                    "type": "array",
                    "maxItems": 100,
                    "items": {
                        "type": "string",
                        "pattern": HOST_NAME_PATTERN,
                        "maxLength": 253,
                    },
                    "description": "Host names the API answers to besides loopback ones, "
                    "e.g. a reverse proxy's name (no port).",
                },
            },
        },
        "limits": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_concurrent_actions": {"type": "integer", "minimum": 1},
                "circuit_breaker": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "max_actions": {"type": "integer", "minimum": 1},
                        "per": _DURATION,
                        "reset_after": _DURATION,
                    },
                },
            },
        },
        "notifiers": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"type": "string"}},
            },
        },
        "watch": {"type": "boolean", "description": "Reload when a policy file changes."},
        "delivery": {
            "type": "object",
            "additionalProperties": False,
            "description": "How notifications are retried from the outbox.",
            "properties": {
                "max_backoff": _DURATION,
                "max_age": _DURATION,
            },
        },
        "fleet": FLEET_SCHEMA,
        "maintenance": {
            "type": "array",
            "items": maintenance_window_schema(
                {
                    "matchers": MATCHERS_SCHEMA,
                    "reason": {"type": "string", "minLength": 1},
                },
                "A recurring maintenance window for the policies and targets it matches.",
                required=("matchers",),
            ),
            "description": "Recurring windows when matching policies page nobody.",
        },
    },
}
