"""The JSON Schema of the agent config file (``medic.yaml``), and of its matchers.

:func:`medic.config.load_config` validates a file against :func:`schema` before it
reads any value; ``medic schema --config`` prints it for editors. Each notifier's
entry is checked by its type's own schema (:func:`medic.notify.options.notifiers_schema`),
and secrets are ``{env: NAME}`` / ``{file: /path}`` references (:mod:`medic.secrets`).
:data:`MATCHERS_SCHEMA` (what a silence or maintenance window covers) is shared with the
silences API.
"""

from __future__ import annotations

import functools
from typing import Any

from medic import secrets
from medic.audit.history_options import SCHEMA as HISTORY_SCHEMA
from medic.audit.options import SCHEMA as AUDIT_SCHEMA
from medic.audit.retention_options import SCHEMA as RETENTION_SCHEMA
from medic.fleet.settings import SCHEMA as FLEET_SCHEMA
from medic.notify.base import notifiers
from medic.notify.options import notifiers_schema
from medic.option_schemas import duration
from medic.policy import bounds
from medic.policy.bounds import DAY, WEEK, Span, count
from medic.policy.schema import maintenance_window_schema

# A DNS name or IPv4 address, or an IPv6 address in brackets: what a Host header holds.
HOST_NAME_PATTERN = r"^([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}$|^\[[0-9A-Fa-f:.]{2,45}\]$"

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


@functools.cache
def schema() -> dict[str, Any]:
    """The config file's schema; the notifiers' part comes from their registry."""
    return _schema()


def __getattr__(name: str) -> Any:
    """``SCHEMA``: :func:`schema`, built when first read (it loads the notifier types)."""
    if name == "SCHEMA":
        return schema()
    raise AttributeError(name)


def _schema() -> dict[str, Any]:
    return {
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
                    "token": secrets.schema(
                        "The API's bearer token (else $MEDIC_API_TOKEN, else one the agent makes)."
                    ),
                    "token_env": secrets.old_spelling("token", "env"),
                    "token_file": secrets.old_spelling("token", "file"),
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
                    "link_base": {
                        "type": "string",
                        "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s<>|]+$",
                        "description": "Where people reach the API (e.g. through a reverse proxy):"
                        " the base of the approve, deny and acknowledge links in messages.",
                    },
                    "public_url": {
                        "type": "string",
                        "description": "The old name of link_base.",
                    },
                },
            },
            "limits": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "max_concurrent_actions": count(
                        1, bounds.MAX_ACTIONS, "Actions running at once on this host."
                    ),
                    "circuit_breaker": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "max_actions": count(
                                1,
                                bounds.MAX_TARGETS,
                                "Actions per window before the breaker opens.",
                            ),
                            "per": duration(
                                "The window max_actions counts in.",
                                "1m",
                                Span(0.0, DAY, above=True),
                            ),
                            "reset_after": duration(
                                "How long an open breaker stays open.",
                                "10m",
                                Span(0, WEEK, above=True),
                            ),
                        },
                    },
                },
            },
            "notifiers": notifiers_schema(notifiers),
            "watch": {"type": "boolean", "description": "Reload when a policy file changes."},
            "delivery": {
                "type": "object",
                "additionalProperties": False,
                "description": "How notifications are retried from the outbox.",
                "properties": {
                    "max_backoff": duration(
                        "Longest wait between two attempts.", "5m", Span(0.0, DAY, above=True)
                    ),
                    "max_age": duration(
                        "When to give up on a notification.", "24h", Span(0.0, 30 * DAY, above=True)
                    ),
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
            "audit": AUDIT_SCHEMA,
            "retention": RETENTION_SCHEMA,
            "history": HISTORY_SCHEMA,
        },
    }
