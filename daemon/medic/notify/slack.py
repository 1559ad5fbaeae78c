"""The ``slack`` notifier: a Block Kit message through a Slack incoming webhook.

The webhook URL is the credential (anyone holding it can post to the channel), so it
is a secret reference and never appears in errors or logs. Slack answers ``200 ok``
on success and a short error code in the body otherwise (``invalid_payload``,
``no_service``, ``channel_is_archived``...), which the NotifyError carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, ClassVar

from yarl import URL

from medic import __version__, secrets
from medic.errors import NotifyError
from medic.notify import message
from medic.notify.base import Notification, Notifier, notifiers
from medic.notify.http_post import post
from medic.notify.options import duration_option, resolve_secret
from medic.option_schemas import duration, options_schema

DEFAULT_TIMEOUT = 10.0
HEADER_LIMIT = 150  # Block Kit: header text
SECTION_LIMIT = 3000  # Block Kit: section text
FIELD_LIMIT = 2000  # Block Kit: each section field
TEXT_LIMIT = 3000  # the notification fallback; Slack truncates far later, phones sooner
ERROR_EXCERPT = 200


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>`` (so ``<!channel>`` stays text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str, limit: int) -> str:
    """``text`` escaped, cut (on the raw text, never inside an entity) to ``limit``."""
    out = escape(text)
    if len(out) <= limit:
        return out
    pieces: list[str] = []
    used = 0
    for char in text:
        piece = escape(char)
        if used + len(piece) > limit - len(message.ELLIPSIS):
            break
        pieces.append(piece)
        used += len(piece)
    return "".join(pieces).rstrip() + message.ELLIPSIS


def _text_object(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _section(heading: str, lines: list[str]) -> dict[str, Any]:
    head = f"*{heading}*\n"
    body = mrkdwn("\n".join(lines), SECTION_LIMIT - len(head))
    return {"type": "section", "text": _text_object(head + body)}


_STYLES = {"Approve": "primary", "Deny": "danger"}


def _button(label: str, url: str) -> dict[str, Any]:
    """A Block Kit link button: opening it opens ``url`` in the browser."""
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": message.truncate(label, 75)},
        "url": url,
        "action_id": f"medic-{label.lower().replace(' ', '-')}"[:255],
    }
    if style := _STYLES.get(label):
        button["style"] = style
    return button


# The emoji an escalation's title starts with, by the policy's severity.
SEVERITY_EMOJI = {
    "critical": ":rotating_light:",
    "error": ":red_circle:",
    "warning": ":warning:",
    "info": ":information_source:",
}


def _title(n: Notification) -> str:
    """The title, led by the severity's emoji on an escalation whose policy sets one."""
    emoji = SEVERITY_EMOJI.get(n.severity or "") if n.kind == "escalation" else None
    return f"{emoji} {message.title(n)}" if emoji else message.title(n)


def blocks(n: Notification, link_base: str | None = None) -> list[dict[str, Any]]:
    """The Block Kit blocks: header, summary, facts, values, history, links, context."""
    out: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": message.truncate(_title(n), HEADER_LIMIT)},
        }
    ]
    if n.summary:
        out.append({"type": "section", "text": _text_object(mrkdwn(n.summary, SECTION_LIMIT))})
    if n.kind == "escalation":
        fields = [
            _text_object(f"*{label}*\n" + mrkdwn(value, FIELD_LIMIT - len(label) - 3))
            for label, value in message.facts(n)
            if label not in {"Host", "Incident"}  # those two are in the context line
        ]
        if fields:
            out.append({"type": "section", "fields": fields[:10]})
        if values := message.value_lines(n):
            out.append(_section("Measured values", message.clip_lines(values, 30)))
        if history := message.history_lines(n):
            out.append(_section("What was tried", message.clip_lines(history, 20, keep="tail")))
    if links := message.incident_links(replace(n, links=()), link_base):
        text = " · ".join(f"<{url}|{escape(label)}>" for label, url in links)
        out.append({"type": "section", "text": _text_object(text)})
    if n.links:  # acting on the incident: link buttons (approve, deny, acknowledge)
        out.append({"type": "actions", "elements": [_button(*link) for link in n.links[:25]]})
    context = [f"host *{mrkdwn(n.host, 500)}*"]
    if n.incident:
        context.append(f"incident `{mrkdwn(n.incident, 500)}`")
    context.append(f"medic {__version__}")
    out.append({"type": "context", "elements": [_text_object(" · ".join(context))]})
    return out


def payload(n: Notification, link_base: str | None = None) -> dict[str, Any]:
    """The JSON body: ``text`` (the notification fallback) and ``blocks``."""
    fallback = _title(n) + (f": {n.summary}" if n.summary else "")
    return {"text": mrkdwn(fallback, TEXT_LIMIT), "blocks": blocks(n, link_base)}


@notifiers.register("slack")
class SlackNotifier(Notifier):
    """Post escalations and resolves to a Slack channel through an incoming webhook.

    Create a Slack app with *Incoming Webhooks* turned on, add a webhook to the
    channel that should hear about incidents, and give the agent its URL in an
    environment variable (or a file readable only by the agent). The message has a
    header, the summary, the facts, the measured values and what was tried; a resolve
    is a short message starting with `Resolved:`.

    ``yaml
    notifiers:
      ops-chat:
        type: slack
        webhook_url: {env: MEDIC_SLACK_WEBHOOK_URL}
        link_base: https://medic.node1.example:9325
    ``
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "webhook_url": secrets.schema("The incoming webhook URL."),
            "link_base": message.LINK_BASE_SCHEMA,
            "timeout": duration("Seconds or a duration like 10s (default 10s).", span=None),
        },
        required=["webhook_url"],
    )

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self.webhook_ref: Mapping[str, str] = options["webhook_url"]
        self.link_base: str | None = options.get("link_base")
        self.timeout = duration_option(
            options, "timeout", DEFAULT_TIMEOUT, where=f"notifiers.{name}.timeout"
        )

    def _url(self) -> str:
        url = resolve_secret(self, "webhook_url", self.webhook_ref)
        if not url.lower().startswith(("https://", "http://")):
            raise NotifyError(
                f"slack {self.name}: webhook_url from {secrets.describe(self.webhook_ref)} "
                "is not an http(s) URL",
                hint="copy the URL from the app's Incoming Webhooks page",
                notifier=self.name,
            )
        return url

    def _scrub(self, text: str, url: str) -> str:
        """``text`` without the webhook URL or its path (the secret part)."""
        path = URL(url).path if "://" in url else ""
        text = text.replace(url, "[webhook_url]")
        return text.replace(path, "/[redacted]") if len(path) > 1 else text

    async def send(self, notification: Notification) -> None:
        notification = self.personal(notification)
        url = self._url()
        body = payload(notification, self.link_base)
        headers = {"User-Agent": f"medic/{__version__}"}
        answer = await post(
            self,
            url,
            where="Slack",
            json=body,
            headers=headers,
            total=self.timeout,
            read=ERROR_EXCERPT,
            detail=lambda exc: self._scrub(str(exc) or type(exc).__name__, url),
        )
        status = answer.status
        error = self._scrub(answer.body.decode("utf-8", "replace").strip(), url)
        if status == 200 and error == "ok":
            return
        raise NotifyError(
            f"slack {self.name}: Slack answered {status}: {error or '(empty body)'}",
            hint=_HINTS.get(error),
            notifier=self.name,
            status=status,
            error=error or None,
            retryable=status == 429 or status >= 500,
            retry_after=answer.retry_seconds,
        )


_HINTS = {
    "invalid_payload": "Slack could not read the message; this is a bug in medic, please report it",
    "invalid_blocks": "Slack rejected the message layout; this is a bug in medic, please report it",
    "no_service": "the webhook was removed or the app uninstalled; create a new webhook URL",
    "no_team": "the workspace of this webhook no longer exists",
    "channel_not_found": "the webhook's channel was deleted; create a new webhook URL",
    "channel_is_archived": "the webhook's channel is archived; unarchive it or use a new webhook",
    "action_prohibited": "a workspace admin restricted posting to this channel",
    "invalid_token": "the webhook URL is no longer valid; create a new webhook URL",
}
