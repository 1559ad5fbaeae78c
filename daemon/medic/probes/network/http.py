"""The ``http`` probe: does a service answer, how fast, and what does it say?

Made for the runbook lines "health endpoint down -> restart", "the API answers 5xx"
(:mod:`medic.probes.network.tcp` covers "the port is closed"). A service that cannot be
reached is a *reading*, not a probe failure: ``ok`` is false and ``error`` says why in
a few words, so ``when: not ok`` fires on it. Only a broken option (an unreadable
``ca_file``, an unset secret) makes the probe itself fail. Secrets (header values, the
bearer token, a URL's password) are resolved at each run and never appear in the
target, the fields or an error.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic import __version__, secrets
from medic.bounds import ascii_int
from medic.ca_trust import ca_context, ca_problem
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema, url
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.network.connection_errors import client_error_text
from medic.redact import is_secret_key, redact_text

if TYPE_CHECKING:
    import ssl

    import aiohttp
    import yarl
else:
    ssl = lazy_module("ssl")
    aiohttp = lazy_module("aiohttp")
    yarl = lazy_module("yarl")

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
BODY_METHODS = ("POST", "PUT", "PATCH")
MAX_REQUEST_BODY = 64 * 1024
DEFAULT_MAX_BODY = 1024 * 1024
_NAME = "^[A-Za-z_][A-Za-z0-9_]*$"
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")

HTTP_FIELDS = (
    Field("ok", "boolean", "Answered with an expected status (default: any 2xx or 3xx)."),
    Field("status", "number", "HTTP status code (null when there was no answer)."),
    Field("latency", "number", "Request sent to body read (null without answer).", "seconds"),
    Field("error", "string", "Why there was no answer (null when there was one)."),
    Field("body_bytes", "number", "Bytes of body read, at most max_body.", "bytes"),
    Field("body_match", "boolean", "The body holds body_contains (null when not asked)."),
)


def display_url(url: str) -> str:
    """The URL as a target: no userinfo, secret-looking query values masked."""
    try:
        parsed = yarl.URL(url)
        if parsed.absolute:
            return redact_text(str(parsed.with_user(None)))
    except ValueError:
        pass
    return redact_text(_USERINFO.sub(r"\1", url))


def pick(document: Any, path: str) -> Any:
    """The value at a dotted path (``checks.db.status``, ``items.0.id``), else None."""
    node = document
    for step in path.split("."):
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and (at := ascii_int(step, max_digits=9)) is not None:
            if at >= len(node):
                return None
            node = node[at]
        else:
            return None
    return node


@probes.register("http")
class HttpProbe(Probe):
    """Request a URL and read the status, latency and, if asked, fields of a JSON body.

    ``ok`` is true when the answer's status is in ``expect_status`` (default: any 2xx or
    3xx; redirects are not followed). When no answer came, ``status`` is null and
    ``error`` says why: ``connection refused``, ``timed out after 5s``, ``TLS:
    certificate has expired``, ``cannot resolve db.internal``. ``json_fields`` picks
    values out of a JSON body by dotted path (``checks.db.status``; a list index is a
    number) and yields each under its own name: null when the body is not JSON, is
    longer than ``max_body`` or lacks the path. ``body_contains`` sets ``body_match``.
    Header values and ``token`` (sent as ``Authorization: Bearer``) may be secret
    references. The target is the URL without user and password. ``timeout`` bounds
    the whole exchange; every run opens a fresh connection.

    ```yaml
    version: 1
    policies:
      - name: api-health-down
        description: Restart the API when its health endpoint stops answering well.
        probe:
          type: http
          url: http://127.0.0.1:8080/healthz
          token: {env: API_HEALTH_TOKEN}
          json_fields: {health: status, db: checks.db.status}
          every: 15s
          timeout: 5s
        when: not ok or health != "pass"
        for: 1m
        remediate:
          - command: {argv: [systemctl, restart, api], timeout: 60s}
        verify: {after: 30s}
        limits: {max: 3, per: 1h, cooldown: 5m}
        escalate: {after_failures: 2, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "url": url("http:// or https:// URL."),
            "method": {"enum": list(METHODS), "description": "Default GET."},
            "headers": {
                "type": "object",
                "additionalProperties": {"anyOf": [{"type": "string"}, secrets.SCHEMA]},
                "description": "Request headers; a value may be a secret {env:}/{file:}.",
            },
            "token": secrets.schema("Sent as `Authorization: Bearer`."),
            "json": {
                "description": "A JSON request body (any value), e.g. a JSON-RPC call; "
                "needs method POST, PUT or PATCH.",
            },
            "body": {
                "type": "string",
                "maxLength": MAX_REQUEST_BODY,
                "description": "A text request body; needs method POST, PUT or PATCH.",
            },
            "expect_status": {
                "type": "array",
                "items": {"type": "integer", "minimum": 100, "maximum": 599},
                "minItems": 1,
                "description": "Statuses that count as ok (default any 2xx or 3xx).",
            },
            "verify_tls": {"type": "boolean", "description": "Check certificates (default true)."},
            "ca_file": {"type": "string", "pattern": "^/", "description": "PEM CA bundle."},
            "json_fields": {
                "type": "object",
                "propertyNames": {"pattern": _NAME},
                "additionalProperties": {"type": "string", "minLength": 1},
                "description": "Field name -> dotted path into a JSON body.",
            },
            "body_contains": {"type": "string", "minLength": 1, "description": "Sets body_match."},
            "max_body": {
                "type": "integer",
                "minimum": 0,
                "description": "Bytes of body to read at most (default 1 MiB).",
            },
        },
        required=["url"],
    )
    fields = HTTP_FIELDS
    default_every = 30.0
    default_timeout = 10.0

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.url = str(options["url"])
        self.target = display_url(self.url)
        self.method = str(options.get("method", "GET"))
        self.expect: frozenset[int] | None = (
            frozenset(options["expect_status"]) if "expect_status" in options else None
        )
        self.json_fields: Mapping[str, str] = options.get("json_fields") or {}
        needle = options.get("body_contains")
        self.needle = str(needle).encode() if needle else None
        self.max_body = int(options.get("max_body", DEFAULT_MAX_BODY))
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        url = str(options.get("url", ""))
        try:
            parsed: yarl.URL | None = yarl.URL(url)
            port = parsed.port if parsed is not None else None  # parsing the port may fail
        except ValueError:
            parsed, port = None, None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host or not port:
            problems.append(f"url {display_url(url)!r} must be an http:// or https:// URL")
        if "json" in options and "body" in options:
            problems.append("give either json (a JSON body) or body (text), not both")
        if ("json" in options or "body" in options) and options.get("method") not in BODY_METHODS:
            problems.append("a request body needs method: POST, PUT or PATCH")
        if "json" in options:
            size = len(json.dumps(options["json"], default=str))
            if size > MAX_REQUEST_BODY:
                problems.append(f"json is {size} bytes encoded; at most {MAX_REQUEST_BODY}")
        headers = options.get("headers") or {}
        for name, value in headers.items():
            if isinstance(value, str) and is_secret_key(name):
                problems.append(
                    f"header {name} holds a secret: write it as {{env: NAME}} or "
                    "{file: /path}, or use token: for a bearer token"
                )
        logins = (
            ("token", "token" in options),
            ("an Authorization header", any(str(k).lower() == "authorization" for k in headers)),
            ("a user in the url", parsed is not None and parsed.user is not None),
        )
        given = [what for what, present in logins if present]
        if len(given) > 1:
            problems.append(f"give one way to log in, not {' and '.join(given)}")
        taken = set(cls.field_names())
        for name in options.get("json_fields") or {}:
            if name in taken:
                problems.append(f"json_fields name {name!r} is already a field; pick another")
        return problems

    @classmethod
    def option_fields(cls, options: Mapping[str, Any]) -> list[str]:
        return list(options.get("json_fields") or {})

    async def measure(self) -> Measurement:
        timeout = self.timeout
        headers = self._headers()
        session = self._open()
        fields: dict[str, Any] = {
            "ok": False,
            "status": None,
            "latency": None,
            "error": None,
            "body_bytes": 0,
            "body_match": None,
            **dict.fromkeys(self.json_fields),
        }
        started = time.perf_counter()
        try:
            async with session.request(
                self.method,
                self.url,
                headers=headers,
                json=self.options.get("json"),
                data=self.options.get("body"),
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                body, complete = await self._read(response)
                fields["latency"] = round(time.perf_counter() - started, 6)
                fields["status"] = response.status
        except TimeoutError:
            fields["error"] = f"timed out after {timeout:g}s"
            return {self.target: fields}
        except aiohttp.ClientError as exc:
            fields["error"] = client_error_text(exc)
            return {self.target: fields}
        status = int(fields["status"])
        fields["ok"] = status in self.expect if self.expect else 200 <= status < 400
        fields["body_bytes"] = len(body)
        if self.needle is not None:
            fields["body_match"] = self.needle in body
        if self.json_fields and complete:
            fields.update(self._pick_json(body))
        return {self.target: fields}

    def _headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        try:
            for name, value in (self.options.get("headers") or {}).items():
                out[str(name)] = value if isinstance(value, str) else secrets.resolve(value)
            if "token" in self.options:
                out["Authorization"] = "Bearer " + secrets.resolve(self.options["token"])
        except secrets.SecretError as exc:
            raise ProbeError(f"http {self.target}: {exc.message}", hint=exc.hint) from exc
        return out

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            tls: ssl.SSLContext | bool = self.options.get("verify_tls", True)
            ca_file = self.options.get("ca_file")
            if tls and ca_file:
                try:  # read by Medic, not OpenSSL: a FIFO or a device there is refused
                    tls = ca_context(ca_file)
                except OSError as exc:
                    raise ProbeError(
                        f"http {self.target}: cannot load ca_file {ca_file}: {ca_problem(exc)}",
                        hint="point ca_file at a readable PEM bundle",
                    ) from exc
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=tls, force_close=True),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": f"medic/{__version__}"},
            )
        return self._session

    async def _read(self, response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
        """Up to ``max_body`` bytes, and whether that was the whole body."""
        limit = self.max_body + 1  # one byte more tells a cut body from a whole one
        kept = bytearray()
        while len(kept) < limit:
            chunk = await response.content.read(limit - len(kept))
            if not chunk:
                break
            kept += chunk
        return bytes(kept[: self.max_body]), len(kept) <= self.max_body

    def _pick_json(self, body: bytes) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except ValueError:
            return {}
        return {name: pick(document, path) for name, path in self.json_fields.items()}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
