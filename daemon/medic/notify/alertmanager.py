"""The ``alertmanager`` notifier: post escalations as alerts to an existing Alertmanager.

A team that already routes Prometheus alerts (to its pager, chat, ticket system)
gets Medic's escalations through the same routes, silences and inhibitions. One
escalation is one alert, posted to ``/api/v2/alerts`` in the API's ``postableAlerts``
shape; the labels name the policy, target, host and incident, so every incident is
its own alert. A resolve posts the same labels with ``endsAt`` set, which is how
Alertmanager resolves an alert.

Alertmanager resolves an alert by itself when nobody posts it again before
``endsAt`` (or, without one, before its ``resolve_timeout``); Prometheus re-sends
firing alerts for that reason. Medic sends each escalation once, so it sets
``endsAt`` to ``expire_after`` (default 24h) past the escalation: the alert stays
firing until Medic resolves it or that long has passed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from medic import __version__, secrets
from medic.errors import ConfigError, NotifyError
from medic.notify import message
from medic.notify.base import Notification, Notifier, notifiers
from medic.notify.http_post import post, shown_url
from medic.notify.options import duration_option, resolve_secret
from medic.option_schemas import duration, options_schema

DEFAULT_TIMEOUT = 10.0
DEFAULT_EXPIRE = 86400.0
ALERTNAME = "MedicEscalation"
RESERVED = ("policy", "target", "host", "incident")
DESCRIPTION_LIMIT = 8000
ERROR_EXCERPT = 500


def rfc3339(when: datetime) -> str:
    """UTC, with microseconds and a ``Z``: what Alertmanager's API parses."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def labels(n: Notification, static: Mapping[str, str] | None = None) -> dict[str, str]:
    """The alert's identity: alertname, severity, policy, target, host, incident.

    ``severity`` is the policy's when it sets one, else the static labels', else critical."""
    out = {"alertname": ALERTNAME, "severity": "critical", **(static or {})}
    if n.severity:
        out["severity"] = n.severity
    out |= {"policy": n.policy, "target": n.target, "host": n.host, "incident": n.incident}
    return {name: value for name, value in out.items() if value}


def alert(
    n: Notification,
    static: Mapping[str, str] | None = None,
    *,
    expire_after: float = DEFAULT_EXPIRE,
    link_base: str | None = None,
) -> dict[str, Any]:
    """One ``postableAlert`` for ``n``: firing until ``expire_after``, or resolved."""
    when = message.sent_at(n)
    body: dict[str, Any] = {
        "labels": labels(n, static),
        "annotations": {
            "summary": message.truncate(n.summary or message.title(n), 1000),
            "description": message.truncate(message.text(n, link_base), DESCRIPTION_LIMIT),
            "reason": n.reason,
        },
    }
    if n.kind == "resolve":
        body["endsAt"] = rfc3339(when)
    else:
        body["startsAt"] = rfc3339(when)
        body["endsAt"] = rfc3339(when + timedelta(seconds=expire_after))
    # generatorURL points at the incident, never at an approve or deny link.
    if link_base and n.incident:
        body["generatorURL"] = message.incident_links(replace(n, links=()), link_base)[0][1]
    body["annotations"] = {k: v for k, v in body["annotations"].items() if v}
    return body


@notifiers.register("alertmanager")
class AlertmanagerNotifier(Notifier):
    """Post escalations as alerts to an Alertmanager, so a team's existing routing applies.

    Every escalation becomes one alert named `MedicEscalation` with the labels
    `policy`, `target`, `host`, `incident` and `severity` (plus `labels`
    from here); route on them in the Alertmanager configuration like on any other
    alert. A resolve ends that alert.

    ``yaml
    notifiers:
      team-alertmanager:
        type: alertmanager
        url: http://alertmanager.monitoring:9093
        labels: {team: storage, severity: page}
        link_base: https://medic.node1.example:9325
    ``
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "url": {
                "type": "string",
                "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                "description": "Alertmanager's base URL; alerts go to `<url>/api/v2/alerts`.",
            },
            "token": secrets.schema("Sent as `Authorization: Bearer`."),
            "headers": {
                "type": "object",
                "additionalProperties": {"anyOf": [{"type": "string"}, secrets.SCHEMA]},
                "description": "Extra request headers; a value may be a secret reference.",
            },
            "labels": {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": {"type": "string"},
                "description": "Static labels on every alert; may replace alertname and "
                "severity (default MedicEscalation, critical).",
            },
            "expire_after": duration(
                "Without a resolve, the alert ends this long after the escalation (default 24h).",
                span=None,
            ),
            "link_base": message.LINK_BASE_SCHEMA,
            "timeout": duration("Seconds or a duration (default 10s).", span=None),
        },
        required=["url"],
    )

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self.url = str(options["url"]).rstrip("/") + "/api/v2/alerts"
        self.where = shown_url(self.url)
        self.token_ref: Mapping[str, str] | None = options.get("token")
        self.header_refs: Mapping[str, Any] = options.get("headers") or {}
        self.static: dict[str, str] = dict(options.get("labels") or {})
        if taken := sorted(set(self.static) & set(RESERVED)):
            raise ConfigError(
                f"notifiers.{name}.labels: {', '.join(taken)} is set by Medic on every alert",
                hint="choose another label name",
            )
        self.link_base: str | None = options.get("link_base")
        where = f"notifiers.{name}"
        self.timeout = duration_option(options, "timeout", DEFAULT_TIMEOUT, where=where)
        self.expire_after = duration_option(options, "expire_after", DEFAULT_EXPIRE, where=where)

    def headers(self) -> dict[str, str]:
        """Request headers, secrets resolved; Medic's own ones cannot be replaced."""
        out: dict[str, str] = {}
        for header, value in self.header_refs.items():
            if str(header).lower() in {"content-type", "user-agent"}:
                continue
            out[str(header)] = (
                value
                if isinstance(value, str)
                else resolve_secret(self, f"headers.{header}", value)
            )
        if self.token_ref is not None:
            out["Authorization"] = "Bearer " + resolve_secret(self, "token", self.token_ref)
        out |= {"Content-Type": "application/json", "User-Agent": f"medic/{__version__}"}
        return out

    async def send(self, notification: Notification) -> None:
        notification = self.personal(notification)
        body = [
            alert(
                notification,
                self.static,
                expire_after=self.expire_after,
                link_base=self.link_base,
            )
        ]
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        answer = await post(
            self,
            self.url,
            where=self.where,
            data=data,
            headers=self.headers(),
            total=self.timeout,
            read=ERROR_EXCERPT,
        )
        status = answer.status
        if status == 200:
            return
        said = _said(answer.body.decode("utf-8", "replace"))
        raise NotifyError(
            f"alertmanager {self.name}: {self.where} answered {status}: {said}",
            hint="a 401 or 403 needs token or headers for the proxy in front of Alertmanager"
            if status in (401, 403)
            else None,
            notifier=self.name,
            status=status,
            retryable=status == 429 or status >= 500,
        )


def _said(text: str) -> str:
    """Alertmanager's error body is a JSON string; show it unquoted."""
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if not isinstance(value, str):
        value = text
    return value.strip() or "(empty body)"
