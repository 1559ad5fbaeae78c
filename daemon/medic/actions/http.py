"""The ``http.request`` action: call an HTTP endpoint (an admin API, a deploy hook).

Target values enter the URL percent-encoded (:func:`medic.actions.placeholders.fill_url`),
so a target cannot add path segments, query parameters or fragments, climb with ``..``
or name another host. A bearer token comes from an environment variable named in
the policy and never reaches the audit log: not in ``describe()``, not in the details,
not even when the server echoes it back in its body.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from medic import __version__, secrets
from medic.actions.base import (
    Action,
    ActionContext,
    ActionResult,
    actions,
    not_filled,
    unfilled_note,
)
from medic.actions.placeholders import ALLOW_PATH, Allow, PlaceholderError, fill_url
from medic.durations import format_duration
from medic.lazy import lazy_module
from medic.option_schemas import options_schema, url
from medic.redact import redact_text

if TYPE_CHECKING:
    import aiohttp
    import yarl
else:
    aiohttp = lazy_module("aiohttp")
    yarl = lazy_module("yarl")

EXCERPT_LIMIT = 2048
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
_ENV_NAME = "^[A-Za-z_][A-Za-z0-9_]*$"
_SCHEME = re.compile(r"^https?://", re.IGNORECASE)
REDACTED = "***"


def display_url(url: str) -> str:
    """``url`` for logs and the audit trail: its password and any secret-looking query
    value (``?token=``, ``api_key=``, ...) replaced."""
    try:
        parsed = yarl.URL(url, encoded=True)
    except ValueError:
        return redact_text(url)
    return redact_text(str(parsed.with_password(REDACTED)) if parsed.password else url)


async def read_excerpt(response: aiohttp.ClientResponse) -> tuple[str, bool]:
    """The first ``EXCERPT_LIMIT`` bytes of the body as text, and whether there was more."""
    kept = bytearray()
    while len(kept) <= EXCERPT_LIMIT:
        chunk = await response.content.read(EXCERPT_LIMIT + 1 - len(kept))
        if not chunk:
            break
        kept += chunk
    return bytes(kept[:EXCERPT_LIMIT]).decode("utf-8", "replace"), len(kept) > EXCERPT_LIMIT


@actions.register("http.request")
class HttpRequestAction(Action):
    """Call an HTTP endpoint, such as a service's admin API or a deploy hook.

    ``url`` may hold placeholders (``{target}``, ``{host}``, probe fields), filled
    percent-encoded; a value that would make a path segment empty, ``.`` or ``..`` is
    refused unless ``allow_path: true`` (which also keeps its ``/``). The body is
    ``json`` (any JSON value) or ``body`` (text). ``token`` (a secret reference:
    ``{env: NAME}`` or ``{file: /path}``) is sent as ``Authorization: Bearer``.
    The step succeeds when the status is in ``expect_status`` (any 2xx by default);
    redirects are not followed. The audit details hold the status, the latency and the
    first 2 KiB of the response body.

    ```yaml
    version: 1
    policies:
      - name: disk-full-rotate-logs
        description: Ask the log shipper to rotate and drop old files when a disk fills up.
        probe: {type: host.disk, every: 1m}
        when: percent > 90
        remediate:
          - http.request:
              url: http://127.0.0.1:8686/admin/rotate?mount={target}
              method: POST
              token: {env: SHIPPER_TOKEN}
              json: {reason: disk-full, keep_days: 2}
              expect_status: [200, 202]
              timeout: 20s
        verify: {after: 2m}
        limits: {max: 2, per: 1h, cooldown: 15m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "url": url("http:// or https:// URL; placeholders are URL-quoted."),
            "method": {"enum": list(METHODS), "description": "Default POST."},
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Extra request headers (no secrets: use token).",
            },
            "token": secrets.schema("Sent as `Authorization: Bearer`."),
            "token_env": {**secrets.old_spelling("token", "env"), "pattern": _ENV_NAME},
            "json": {"description": "A JSON body (any value)."},
            "body": {"type": "string", "description": "A text body."},
            "expect_status": {
                "type": "array",
                "items": {"type": "integer", "minimum": 100, "maximum": 599},
                "minItems": 1,
                "description": "Statuses that count as success (default any 2xx).",
            },
            "verify_tls": {"type": "boolean", "description": "Check certificates (default true)."},
            "allow_path": ALLOW_PATH,
        },
        required=["url"],
    )
    default_timeout: ClassVar[float] = 30.0

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        url = options.get("url")
        if isinstance(url, str) and not _SCHEME.match(url):
            problems.append(f"url {url!r} must start with http:// or https://")
        if "json" in options and "body" in options:
            problems.append("give either json (a JSON body) or body (text), not both")
        headers = options.get("headers") or {}
        if any(str(k).lower() == "authorization" for k in headers):
            problems.append(
                "do not write an Authorization header in a policy file; put the token in an "
                "environment variable or a file and name it with token: {env: NAME}"
            )
        if "token" in options and "token_env" in options:
            problems.append("token and token_env both name the token: keep token")
        return problems

    @property
    def method(self) -> str:
        return str(self.options.get("method", "POST")).upper()

    def describe(self, ctx: ActionContext) -> str:
        try:
            url = display_url(self.url(ctx))
        except PlaceholderError as exc:
            url = f"{self.options['url']} {unfilled_note(exc)}"
        text = f"{self.method} {url}"
        if ref := secrets.option(self.options, "token", env="token_env"):
            text += f" with the bearer token from {secrets.describe(ref)}"
        return text

    def url(self, ctx: ActionContext) -> str:
        """The URL to call; PlaceholderError when a value cannot be filled in."""
        return fill_url(self.options["url"], ctx.variables(), Allow.of(self.options))

    def _accepted(self, status: int) -> bool:
        expected: Sequence[int] | None = self.options.get("expect_status")
        return status in expected if expected else 200 <= status < 300

    def _expected_text(self) -> str:
        expected: Sequence[int] | None = self.options.get("expect_status")
        return ", ".join(str(s) for s in expected) if expected else "2xx"

    async def run(self, ctx: ActionContext) -> ActionResult:
        try:
            url = self.url(ctx)
        except PlaceholderError as exc:
            return not_filled(exc, {"method": self.method, "url": self.options["url"]})
        shown = display_url(url)
        details: dict[str, Any] = {"method": self.method, "url": shown}
        headers = {str(k): str(v) for k, v in (self.options.get("headers") or {}).items()}
        if not any(name.lower() == "user-agent" for name in headers):
            headers["User-Agent"] = f"medic/{__version__}"
        token = ""
        if ref := secrets.option(self.options, "token", env="token_env"):
            try:
                token = secrets.resolve(ref)
            except secrets.SecretError as exc:
                text = f"token: {exc.message}" + (f"; {exc.hint}" if exc.hint else "")
                return ActionResult(False, text, details)
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            headers["Authorization"] = f"Bearer {token}"

        def scrub(text: str) -> str:
            return text.replace(token, REDACTED) if token else text

        request = f"{self.method} {shown}"
        start = time.monotonic()
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ctx.timeout)) as session,
                session.request(
                    self.method,
                    yarl.URL(url, encoded=True),
                    headers=headers,
                    json=self.options.get("json"),
                    data=self.options.get("body"),
                    ssl=bool(self.options.get("verify_tls", True)),
                    allow_redirects=False,
                ) as response,
            ):
                excerpt, truncated = await read_excerpt(response)
                status, reason = response.status, response.reason or ""
                location = response.headers.get("Location")
        except TimeoutError:
            details.update(timed_out=True, latency=round(time.monotonic() - start, 3))
            return ActionResult(
                False, f"{request} timed out after {format_duration(ctx.timeout)}", details
            )
        except (aiohttp.ClientError, ValueError) as exc:
            error = scrub(str(exc) or type(exc).__name__)
            details.update(error=error, latency=round(time.monotonic() - start, 3))
            return ActionResult(False, f"{request} failed: {error}", details)
        latency = time.monotonic() - start
        details.update(
            status=status,
            reason=reason,
            latency=round(latency, 3),
            body=scrub(excerpt),
            body_truncated=truncated,
        )
        if location:
            details["location"] = display_url(scrub(location))
        outcome = f"{request} -> {status} {reason}".rstrip()
        if self._accepted(status):
            return ActionResult(True, f"{outcome} in {format_duration(latency)}", details)
        return ActionResult(False, f"{outcome} (expected {self._expected_text()})", details)
