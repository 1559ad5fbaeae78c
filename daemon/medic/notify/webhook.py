"""The ``webhook`` notifier: POST each escalation and resolve as signed JSON.

The body is the notification as compact JSON with sorted keys, so a receiver can
verify the exact bytes. ``X-Medic-Delivery`` (``<incident>:<kind>:<reason>``) stays the same
across retries, so receivers can drop duplicates. With ``secret`` set, each
delivery carries ``X-Medic-Timestamp`` and an HMAC-SHA256 ``X-Medic-Signature``
(see :mod:`medic.notify.signing`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic import __version__, secrets
from medic.durations import format_duration
from medic.errors import NotifyError
from medic.lazy import lazy_module
from medic.notify.base import Notification, Notifier, notifiers
from medic.notify.http_post import shown_url
from medic.notify.options import duration_option, resolve_secret
from medic.notify.signing import sign
from medic.option_schemas import duration, options_schema

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")

DEFAULT_TIMEOUT = 10.0
REASON_EXCERPT = 200


def encode(notification: Notification) -> bytes:
    """The exact bytes sent (and signed): compact, sorted keys, UTF-8."""
    text = json.dumps(
        notification.to_dict(),
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return text.encode("utf-8")


def delivery_id(notification: Notification) -> str:
    """The idempotency key a receiver dedupes on: one per incident, kind and reason.

    The reason is part of it because one incident may rightly page twice for different
    reasons (approval requested, then approval timed out).
    """
    return f"{notification.incident}:{notification.kind}:{notification.reason}"


@notifiers.register("webhook")
class WebhookNotifier(Notifier):
    """POST escalations and resolves as JSON, signed with HMAC-SHA256 when a secret is set."""

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "url": {
                "type": "string",
                "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://",
                "description": "Where to POST; http:// or https://.",
            },
            "secret": secrets.schema("The HMAC-SHA256 key that signs each delivery."),
            "secret_env": {
                **secrets.old_spelling("secret", "env"),
                "pattern": secrets.ENV_NAME_PATTERN,
            },
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Extra request headers.",
            },
            "timeout": duration("Seconds or a duration like 10s (default 10s).", span=None),
        },
        required=["url"],
    )

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        super().__init__(name, options)
        self.url = str(options["url"])
        self.timeout = duration_option(
            options, "timeout", DEFAULT_TIMEOUT, where=f"notifiers.{name}.timeout"
        )
        self.secret_ref = secrets.option(options, "secret", env="secret_env")
        self.extra_headers: dict[str, str] = {
            str(k): str(v) for k, v in (options.get("headers") or {}).items()
        }

    def _secret(self) -> str | None:
        if self.secret_ref is None:
            return None
        return resolve_secret(self, "secret", self.secret_ref)

    def headers(self, notification: Notification, body: bytes) -> dict[str, str]:
        """Request headers for one delivery (signed when a secret is configured)."""
        # Medic's own headers win over configured ones, whatever their case.
        headers = {
            name: value
            for name, value in self.extra_headers.items()
            if name.lower() not in {"content-type", "user-agent"}
            and not name.lower().startswith("x-medic-")
        }
        headers |= {
            "Content-Type": "application/json",
            "User-Agent": f"medic/{__version__}",
            "X-Medic-Event": notification.kind,
            "X-Medic-Delivery": delivery_id(notification),
        }
        if (secret := self._secret()) is not None:
            timestamp = int(time.time())
            headers["X-Medic-Timestamp"] = str(timestamp)
            headers["X-Medic-Signature"] = sign(secret, timestamp, body)
        return headers

    async def send(self, notification: Notification) -> None:
        notification = self.personal(notification)
        body = encode(notification)
        headers = self.headers(notification, body)
        where = shown_url(self.url)
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as s,
                s.post(self.url, data=body, headers=headers, allow_redirects=False) as response,
            ):
                if 200 <= response.status < 300:
                    return
                excerpt = (await response.content.read(REASON_EXCERPT)).decode("utf-8", "replace")
                status, reason = response.status, response.reason or ""
        except TimeoutError as exc:
            raise NotifyError(
                f"webhook {self.name}: {where} did not answer within "
                f"{format_duration(self.timeout)}",
                notifier=self.name,
            ) from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise NotifyError(
                f"webhook {self.name}: cannot reach {where}: {exc or type(exc).__name__}",
                notifier=self.name,
            ) from exc
        raise NotifyError(
            f"webhook {self.name}: {where} answered {status} {reason}".rstrip(),
            notifier=self.name,
            status=status,
            body=excerpt.strip() or None,
        )
