"""Rendering a Notification as text for humans: one renderer for every channel.

Slack, PagerDuty, e-mail and Alertmanager all say the same things in the same order:
a title line, the summary, the facts (policy, target, host, incident, reason, time),
the measured values formatted for reading, what was tried with its outcomes, and links:
to the incident when the notifier has a ``link_base``, then the notification's own
(approve and deny an action that waits for a human). Each channel picks the
pieces it needs and limits their length with :func:`truncate` and :func:`clip_lines`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from medic import humanize
from medic.notify.base import Notification

ELLIPSIS = "…"
VALUE_LIMIT = 200  # one value in a list of values; a full probe body is not news
_SECONDS_SUFFIXES = ("age", "_seconds", "uptime")

# The ``link_base`` option every notifier takes: where Medic's API and web page are.
LINK_BASE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s<>|]+$",
    "description": "Medic's public URL, e.g. https://medic.node1.example:9325; "
    "messages link to the incident there.",
}


def sent_at(n: Notification) -> datetime:
    """When the notification was made, as an aware datetime (now if its time is unreadable)."""
    try:
        when = datetime.fromisoformat(n.time.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    return text[: limit - 1].rstrip() + ELLIPSIS


def clip_lines(lines: Sequence[str], max_lines: int, *, keep: str = "head") -> list[str]:
    """At most ``max_lines`` lines, one of them saying how many were left out.

    ``keep="head"`` keeps the first lines, ``keep="tail"`` the last ones (for
    histories, where the latest attempts matter most).
    """
    if len(lines) <= max_lines:
        return list(lines)
    shown = max(max_lines - 1, 0)
    hidden = len(lines) - shown
    if keep == "tail":
        return [f"({hidden} earlier not shown)", *lines[len(lines) - shown :]]
    return [*lines[:shown], f"(and {hidden} more)"]


def verb(n: Notification) -> str:
    """``Escalated`` or ``Resolved``."""
    return "Resolved" if n.kind == "resolve" else "Escalated"


def headline(n: Notification) -> str:
    """What is wrong and where, without the verb: ``web-down on web (node-1)``."""
    text = f"{n.policy} on {n.target} ({n.host})"
    return f"{text} [dry run]" if n.dry_run else text


def title(n: Notification) -> str:
    """The one-line title: ``Escalated: web-down on web (node-1)``."""
    return f"{verb(n)}: {headline(n)}"


def facts(n: Notification) -> list[tuple[str, str]]:
    """The labelled facts every channel shows, in a fixed order; empty ones left out."""
    pairs = [
        ("Policy", n.policy),
        ("Target", n.target),
        ("Host", n.host),
        ("Incident", n.incident),
        ("Reason", n.reason),
        ("Severity", n.severity or ""),
        ("Time", n.time),
    ]
    return [(label, value) for label, value in pairs if value]


def _number(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return str(int(value))
    return str(round(value, 2))


def format_value(key: str, value: Any) -> str:
    """One measured value, readable: sizes in KiB/MiB/GiB for ``*_bytes`` keys,
    durations for ``*age``/``*_seconds``/``*uptime`` keys, plain text otherwise."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return str(value)
        lowered = key.lower()
        if lowered.endswith("_bytes"):
            return humanize.size(value)
        if lowered.endswith(_SECONDS_SUFFIXES):
            return humanize.seconds(value)
        return _number(value)
    if isinstance(value, str):
        return truncate(value, VALUE_LIMIT)
    text = json.dumps(value, default=str, ensure_ascii=False, separators=(", ", ": "))
    return truncate(text, VALUE_LIMIT)


def value_lines(n: Notification) -> list[str]:
    """``key: value`` per measured value, keys sorted."""
    return [f"{key}: {format_value(str(key), n.values[key])}" for key in sorted(n.values, key=str)]


def _outcome(entry: Mapping[str, Any]) -> str:
    outcome = entry.get("outcome")
    if isinstance(outcome, str) and outcome:
        return outcome.removeprefix("action.").replace("_", " ")
    if "ok" in entry:
        return "ok" if entry["ok"] else "failed"
    return "unknown"


def history_lines(n: Notification) -> list[str]:
    """What was tried, oldest first: ``1. command: failed - exited 1``."""
    lines = []
    for number, entry in enumerate(n.history, start=1):
        action = str(entry.get("action") or entry.get("type") or "step")
        line = f"{number}. {action}: {_outcome(entry)}"
        if summary := entry.get("summary"):
            line += f" - {truncate(str(summary), VALUE_LIMIT)}"
        lines.append(line)
    return lines


def incident_links(n: Notification, link_base: str | None) -> list[tuple[str, str]]:
    """``(label, url)`` for the incident's web page and API resource, when known, then
    the notification's own links (approve and deny an action)."""
    own = [(label, url) for label, url in n.links]
    if not link_base or not n.incident:
        return own
    base = link_base.rstrip("/")
    ident = quote(n.incident, safe="")
    return [
        ("Incident in Medic", f"{base}/#incident={ident}"),
        ("Incident (API)", f"{base}/api/v1/incidents/{ident}"),
        *own,
    ]


def text(
    n: Notification,
    link_base: str | None = None,
    *,
    max_values: int = 30,
    max_history: int = 20,
) -> str:
    """The whole notification as plain text (an e-mail body, an alert description)."""
    width = max((len(label) for label, _ in facts(n)), default=0) + 1
    parts = [title(n)]
    if n.summary:
        parts.append(n.summary)
    parts.append("\n".join(f"{label + ':':<{width}} {value}" for label, value in facts(n)))
    if values := value_lines(n):
        lines = clip_lines(values, max_values)
        parts.append("Measured values:\n" + "\n".join(f"  {line}" for line in lines))
    if history := history_lines(n):
        lines = clip_lines(history, max_history, keep="tail")
        parts.append("What was tried:\n" + "\n".join(f"  {line}" for line in lines))
    if links := incident_links(n, link_base):
        parts.append("\n".join(f"{label}: {url}" for label, url in links))
    return "\n\n".join(parts) + "\n"
