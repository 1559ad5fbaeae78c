"""The ``pagerduty`` notifier: trigger and resolve alerts through the Events API v2.

The incident id is the ``dedup_key``, so retries of one escalation land on the same
PagerDuty alert and the resolve closes exactly that alert. The routing (integration)
key is a secret reference and never appears in errors or logs. PagerDuty answers
``202`` with ``{"status": "success"}``; ``400`` means the event is invalid (not worth
retrying), ``429`` and ``5xx`` mean try again later (the error says ``retryable``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar

from medic import __version__, secrets
from medic.errors import NotifyError
from medic.notify import message
from medic.notify.base import Notification, Notifier, notifiers
from medic.notify.http_post import post
from medic.notify.options import duration_option, resolve_secret
from medic.option_schemas import duration, options_schema

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_TIMEOUT = 10.0
SEVERITIES = ("critical", "error", "warning", "info")
SUMMARY_LIMIT = 1024  # Events API v2: payload.summary
DEDUP_LIMIT = 255  # Events API v2: dedup_key
SIZE_LIMIT = 500 * 1024  # the API takes 512 KB; keep a margin for the envelope
ANSWER_LIMIT = 64 * 1024


def dedup_key(n: Notification) -> str:
    """The alert's identity: the incident id (or policy/target on this host without one)."""
    key = n.incident or f"medic/{n.host}/{n.policy}/{n.target}"
    return key[:DEDUP_LIMIT]


def _details(n: Notification) -> dict[str, Any]:
    details: dict[str, Any] = {
        "summary": n.summary,
        "incident": n.incident,
        "reason": n.reason,
        "values": dict(n.values),
        "history": message.history_lines(n),
    }
    if n.dry_run:
        details["dry_run"] = True
    return details


def event(
    n: Notification, routing_key: str, severity: str = "error", link_base: str | None = None
) -> dict[str, Any]:
    """The Events API v2 body for ``n``: a trigger for escalations, a resolve otherwise.

    The policy's severity, when it sets one, wins over the notifier's ``severity``."""
    if n.kind == "resolve":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key(n)}
    summary = message.title(n) + (f": {n.summary}" if n.summary else "")
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(n),
        "payload": {
            "summary": message.truncate(summary, SUMMARY_LIMIT),
            "source": n.host or "medic",
            "severity": n.severity or severity,
            "timestamp": n.time,
            "component": n.target,
            "group": n.policy,
            "class": n.reason,
            "custom_details": _details(n),
        },
        "client": "Medic",
    }
    body["payload"] = {k: v for k, v in body["payload"].items() if v != ""}
    if link_base:
        body["client_url"] = link_base
        body["links"] = [
            {"href": url, "text": label} for label, url in message.incident_links(n, link_base)
        ]
    return body


def encode(body: dict[str, Any]) -> bytes:
    """``body`` as JSON; an event too large for the API loses its values and history."""
    data = json.dumps(body, default=str, ensure_ascii=False).encode("utf-8")
    if len(data) <= SIZE_LIMIT or "payload" not in body:
        return data
    details = body["payload"]["custom_details"]
    body["payload"]["custom_details"] = {
        "summary": message.truncate(str(details["summary"]), 4096),
        "incident": details["incident"],
        "reason": details["reason"],
        "truncated": "values and history exceed the Events API size limit; "
        "see the incident in Medic",
    }
    return json.dumps(body, default=str, ensure_ascii=False).encode("utf-8")


@notifiers.register("pagerduty")
class PagerDutyNotifier(Notifier):
    """Trigger a PagerDuty alert on escalation and resolve it when the incident heals.

    In PagerDuty, add an integration of type *Events API v2* to the service that
    should be paged, and give the agent its integration key (the `routing_key`)
    through an environment variable or a file. The Medic incident id is the
    `dedup_key`: retries never page twice, and the resolve closes the same alert.

    ``yaml
    notifiers:
      pager:
        type: pagerduty
        routing_key: {env: MEDIC_PAGERDUTY_ROUTING_KEY}
        severity: critical
        link_base: https://medic.node1.example:9325
    ``
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "routing_key": secrets.schema("The Events API v2 integration key."),
            "url": {
                "type": "string",
                "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                "description": f"The events endpoint (default {DEFAULT_URL}).",
            },
            "severity": {
                "enum": list(SEVERITIES),
                "description": "The alert's severity (default error).",
            },
            "link_base": message.LINK_BASE_SCHEMA,
            "timeout": duration("Seconds or a duration like 10s (default 10s).", span=None),
        },
        required=["routing_key"],
    )

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self.key_ref: Mapping[str, str] = options["routing_key"]
        self.url = str(options.get("url", DEFAULT_URL))
        self.severity = str(options.get("severity", "error"))
        self.link_base: str | None = options.get("link_base")
        self.timeout = duration_option(
            options, "timeout", DEFAULT_TIMEOUT, where=f"notifiers.{name}.timeout"
        )

    async def send(self, notification: Notification) -> None:
        notification = self.personal(notification)
        key = resolve_secret(self, "routing_key", self.key_ref)
        data = encode(event(notification, key, self.severity, self.link_base))
        headers = {"Content-Type": "application/json", "User-Agent": f"medic/{__version__}"}
        answer = await post(
            self,
            self.url,
            where=self.url,
            data=data,
            headers=headers,
            total=self.timeout,
            read=ANSWER_LIMIT,
        )
        text = answer.body.decode("utf-8", "replace").replace(key, "[routing_key]")
        self._check(answer.status, text, answer.retry_seconds)

    def _check(self, status: int, text: str, retry_after: float | None) -> None:
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            answer = {}
        if status == 202 and answer.get("status") == "success":
            return
        errors = [str(e) for e in answer.get("errors", []) if isinstance(e, str | int | float)]
        said = str(answer.get("message") or text.strip()[:200] or "(empty body)")
        if errors:
            said += ": " + "; ".join(errors)
        raise NotifyError(
            f"pagerduty {self.name}: PagerDuty answered {status}: {said}",
            hint=_hint(status),
            notifier=self.name,
            status=status,
            errors=errors or None,
            retryable=status == 429 or status >= 500,
            retry_after=retry_after,
        )


def _hint(status: int) -> str | None:
    if status == 400:
        return "routing_key must be the 32-character key of an Events API v2 integration"
    if status == 429:
        return "PagerDuty is throttling this service; the delivery is retried later"
    if status in (401, 403, 404):
        return f"check url: {DEFAULT_URL} is the Events API v2 endpoint"
    return None
