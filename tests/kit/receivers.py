"""Local stand-ins for Slack, PagerDuty, Alertmanager and an SMTP relay, for notifier tests.

The HTTP receivers run on 127.0.0.1 and check every request against what the real
service documents (Slack's incoming webhooks and Block Kit limits, PagerDuty's Events
API v2, Alertmanager's API v2 ``postableAlerts``), answering as the real service would:
a payload the real one would reject is rejected here too, and the reasons are kept in
``problems`` so a test can show them. The SMTP relay is aiosmtpd on loopback with a
certificate made here, STARTTLS or implicit TLS, and AUTH.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    problems: list[str]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Requests seen so far, and an optional forced answer (status, body, headers)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    reply: tuple[int, str, dict[str, str]] | None = None
    delay: float = 0.0

    @property
    def last(self) -> Received:
        return self.requests[-1]


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _record(rec: Receiver, request: web.Request, problems: list[str]) -> Received:
    seen = Received(request.path, dict(request.headers), await request.read(), problems)
    rec.requests.append(seen)
    if rec.delay:
        await asyncio.sleep(rec.delay)
    return seen


def _forced(rec: Receiver) -> web.Response | None:
    if rec.reply is None:
        return None
    status, text, headers = rec.reply
    return web.Response(status=status, text=text, headers=headers)


# --- Slack: incoming webhooks with Block Kit -------------------------------------------

SLACK_PATH = "/services/T0MEDIC01/B0MEDIC02/s3cr3tWebh00kT0ken"
_SLACK_TOP = {"text", "blocks", "attachments", "thread_ts", "mrkdwn", "unfurl_links"}
_SLACK_BLOCK_KEYS = {
    "header": {"type", "text", "block_id"},
    "section": {"type", "text", "fields", "accessory", "block_id", "expand"},
    "context": {"type", "elements", "block_id"},
    "divider": {"type", "block_id"},
    "actions": {"type", "elements", "block_id"},
}
_SLACK_BUTTON = {"type", "text", "url", "action_id", "style", "value", "confirm"}


def _text_object(obj: Any, where: str, limit: int, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in kinds:
        return [f"{where}: must be a text object of type {' or '.join(kinds)}"]
    allowed = {"type", "text", "emoji" if obj["type"] == "plain_text" else "verbatim"}
    out = [f"{where}: unknown key {k!r}" for k in sorted(set(obj) - allowed)]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        out.append(f"{where}.text: must be a non-empty string")
    elif len(text) > limit:
        out.append(f"{where}.text: {len(text)} characters, more than {limit}")
    return out


def _section(block: dict[str, Any], where: str) -> list[str]:
    out = []
    if "text" not in block and "fields" not in block:
        out.append(f"{where}: a section needs text or fields")
    if "text" in block:
        out += _text_object(block["text"], f"{where}.text", 3000, ("plain_text", "mrkdwn"))
    if "fields" in block:
        fields = block["fields"]
        if not isinstance(fields, list) or not 1 <= len(fields) <= 10:
            out.append(f"{where}.fields: must hold 1 to 10 text objects")
        else:
            for i, f in enumerate(fields):
                out += _text_object(f, f"{where}.fields[{i}]", 2000, ("plain_text", "mrkdwn"))
    return out


def _context(block: dict[str, Any], where: str) -> list[str]:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
        return [f"{where}.elements: must hold 1 to 10 elements"]
    out = []
    for i, e in enumerate(elements):
        out += _text_object(e, f"{where}.elements[{i}]", 3000, ("plain_text", "mrkdwn"))
    return out


def _actions(block: dict[str, Any], where: str) -> list[str]:
    """An actions block of buttons: 1 to 25 elements; text up to 75, url up to 3000."""
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
        return [f"{where}.elements: must hold 1 to 25 elements"]
    out = []
    for i, e in enumerate(elements):
        at = f"{where}.elements[{i}]"
        if not isinstance(e, dict) or e.get("type") != "button":
            out.append(f"{at}: only buttons are checked here")
            continue
        out += [f"{at}: unknown key {k!r}" for k in sorted(set(e) - _SLACK_BUTTON)]
        out += _text_object(e.get("text"), f"{at}.text", 75, ("plain_text",))
        url = e.get("url")
        if url is not None and not (isinstance(url, str) and 0 < len(url) <= 3000):
            out.append(f"{at}.url: must be a string of at most 3000 characters")
        if len(str(e.get("action_id", ""))) > 255:
            out.append(f"{at}.action_id: longer than 255")
        if e.get("style", "primary") not in ("primary", "danger"):
            out.append(f"{at}.style: must be primary or danger")
    return out


def _slack_block(block: Any, where: str) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in _SLACK_BLOCK_KEYS:
        return [f"{where}: type must be one of {sorted(_SLACK_BLOCK_KEYS)}"]
    kind = block["type"]
    out = [f"{where}: unknown key {k!r}" for k in sorted(set(block) - _SLACK_BLOCK_KEYS[kind])]
    if len(str(block.get("block_id", ""))) > 255:
        out.append(f"{where}.block_id: longer than 255")
    if kind == "header":
        out += _text_object(block.get("text"), f"{where}.text", 150, ("plain_text",))
    elif kind == "section":
        out += _section(block, where)
    elif kind == "context":
        out += _context(block, where)
    elif kind == "actions":
        out += _actions(block, where)
    return out


def slack_problems(content_type: str, body: bytes) -> list[str]:
    """Why Slack would refuse this incoming-webhook body (empty when it is fine)."""
    if content_type.split(";", maxsplit=1)[0].strip() != "application/json":
        return [f"content-type is {content_type!r}, not application/json"]
    try:
        data = json.loads(body)
    except ValueError:
        return ["body is not JSON"]
    if not isinstance(data, dict):
        return ["body is not a JSON object"]
    out = [f"unknown top-level key {k!r}" for k in sorted(set(data) - _SLACK_TOP)]
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        out.append("text: must be a non-empty string (the notification fallback)")
    elif len(text) > 40000:
        out.append("text: longer than 40000 characters")
    blocks = data.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        out.append("blocks: must be a list of at most 50 blocks")
    else:
        for i, block in enumerate(blocks):
            out += _slack_block(block, f"blocks[{i}]")
    return out


def slack_app(rec: Receiver) -> web.Application:
    """Slack's incoming webhook: ``200 ok``, or an error code in a text body."""

    async def hook(request: web.Request) -> web.Response:
        problems = (
            slack_problems(request.content_type, await request.read())
            if request.path == SLACK_PATH
            else ["unknown webhook"]
        )
        await _record(rec, request, problems)
        if forced := _forced(rec):
            return forced
        if request.path != SLACK_PATH:
            return web.Response(status=404, text="no_service")
        if problems:
            code = "invalid_blocks" if any(p.startswith("blocks") for p in problems) else ""
            return web.Response(status=400, text=code or "invalid_payload")
        return web.Response(status=200, text="ok")

    app = web.Application()
    app.router.add_post("/services/{rest:.*}", hook)
    return app


# --- PagerDuty: Events API v2 ----------------------------------------------------------

PAGERDUTY_KEY = "R0UT1NGK3Y0F32CHARACTERS00000042"  # integration keys are 32 characters
_PD_TOP = {"routing_key", "event_action", "dedup_key", "payload", "images", "links"}
_PD_TOP |= {"client", "client_url"}
_PD_PAYLOAD = {"summary", "source", "severity", "timestamp", "component", "group", "class"}
_PD_PAYLOAD |= {"custom_details"}
_ISO8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


def pagerduty_problems(body: bytes) -> list[str]:
    """Why the Events API v2 would refuse this event (empty when it is fine)."""
    if len(body) > 512 * 1024:
        return ["event larger than 512 KB"]
    try:
        event = json.loads(body)
    except ValueError:
        return ["body is not JSON"]
    if not isinstance(event, dict):
        return ["event is not a JSON object"]
    out = [f"unknown field {k!r}" for k in sorted(set(event) - _PD_TOP)]
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        out.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        out.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup = event.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or not 1 <= len(dedup) <= 255):
        out.append("'dedup_key' must be a string of 1 to 255 characters")
    if action in ("acknowledge", "resolve") and dedup is None:
        out.append(f"'dedup_key' is required for {action}")
    if action == "trigger":
        out += _pd_payload(event.get("payload"))
    return out + _pd_context(event)


def _pd_context(event: dict[str, Any]) -> list[str]:
    out = []
    for i, link in enumerate(event.get("links", [])):
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            out.append(f"links[{i}]: 'href' is required")
        elif set(link) - {"href", "text"}:
            out.append(f"links[{i}]: unknown field")
    for name in ("client", "client_url"):
        if name in event and not isinstance(event[name], str):
            out.append(f"'{name}' must be a string")
    return out


def _pd_payload(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is required for trigger events"]
    out = [f"payload: unknown field {k!r}" for k in sorted(set(payload) - _PD_PAYLOAD)]
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary:
        out.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        out.append("'payload.summary' is longer than 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        out.append("'payload.source' is missing or blank")
    if payload.get("severity") not in ("critical", "error", "warning", "info"):
        out.append("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
    stamp = payload.get("timestamp")
    if stamp is not None and not (isinstance(stamp, str) and _ISO8601.match(stamp)):
        out.append("'payload.timestamp' is not an ISO 8601 timestamp")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            out.append(f"'payload.{name}' must be a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        out.append("'payload.custom_details' must be an object")
    return out


def pagerduty_app(rec: Receiver) -> web.Application:
    """``POST /v2/enqueue``: 202 with the dedup key, or 400 with the errors list."""

    async def enqueue(request: web.Request) -> web.Response:
        seen = await _record(rec, request, pagerduty_problems(await request.read()))
        if forced := _forced(rec):
            return forced
        if seen.problems:
            answer = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": seen.problems,
            }
            return web.json_response(answer, status=400)
        dedup = seen.json.get("dedup_key") or "generated-dedup-key"
        answer = {"status": "success", "message": "Event processed", "dedup_key": dedup}
        return web.json_response(answer, status=202)

    app = web.Application()
    app.router.add_post("/v2/enqueue", enqueue)
    return app


# --- Alertmanager: API v2 postableAlerts -----------------------------------------------

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_ALERT_KEYS = {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}


def _label_set(value: Any, where: str, required: bool) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where} must be an object"] if required or value is not None else []
    out = [f"{where}: invalid name {k!r}" for k in value if not _LABEL_NAME.match(str(k))]
    out += [f"{where}.{k}: must be a string" for k, v in value.items() if not isinstance(v, str)]
    if required and not value:
        out.append("at least one label pair required")
    return out


def _alert(alert: Any, where: str) -> list[str]:
    if not isinstance(alert, dict):
        return [f"{where}: must be an object"]
    out = [f"{where}: unknown field {k!r}" for k in sorted(set(alert) - _ALERT_KEYS)]
    if "labels" not in alert:
        out.append(f"{where}.labels in body is required")
    out += _label_set(alert.get("labels"), f"{where}.labels", required=True)
    out += _label_set(alert.get("annotations"), f"{where}.annotations", required=False)
    times = {}
    for name in ("startsAt", "endsAt"):
        if name in alert:
            value = alert[name]
            if not isinstance(value, str) or not _RFC3339.match(value):
                out.append(f"{where}.{name} must be a RFC3339 date-time")
            else:
                times[name] = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if len(times) == 2 and times["endsAt"] < times["startsAt"]:
        out.append("start time must be before end time")
    url = alert.get("generatorURL")
    if url is not None and not (isinstance(url, str) and re.match(r"^https?://\S+$", url)):
        out.append(f"{where}.generatorURL must be a URI")
    return out


def alertmanager_problems(body: bytes) -> list[str]:
    """Why Alertmanager's ``POST /api/v2/alerts`` would refuse this body."""
    try:
        alerts = json.loads(body)
    except ValueError:
        return ["body is not JSON"]
    if not isinstance(alerts, list):
        return ["body must be a list of alerts"]
    out: list[str] = []
    for i, alert in enumerate(alerts):
        out += _alert(alert, f"[{i}]")
    return out


def alertmanager_app(rec: Receiver) -> web.Application:
    """``POST /api/v2/alerts``: 200 with no body, or 400 with the error as a JSON string."""

    async def alerts(request: web.Request) -> web.Response:
        problems = alertmanager_problems(await request.read())
        if request.content_type != "application/json":
            problems.append(f"content-type {request.content_type!r} is not application/json")
        seen = await _record(rec, request, problems)
        if forced := _forced(rec):
            return forced
        if seen.problems:
            return web.json_response("; ".join(seen.problems), status=400)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/api/v2/alerts", alerts)
    return app


# --- SMTP: aiosmtpd with TLS and AUTH --------------------------------------------------


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "medic test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay.pem", folder / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    over_tls: bool
    login: str | None


@dataclass
class SmtpRelay:
    """Delivered mails and logins; ``refuse`` lists recipients answered with 550."""

    port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    mails: list[Mail] = field(default_factory=list)
    logins: list[tuple[str, bool, bool]] = field(default_factory=list)  # user, ok, over TLS
    refuse: set[str] = field(default_factory=set)

    def authenticator(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = self.users.get(user) == password
        self.logins.append((user, ok, _over_tls(server)))
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        login = session.auth_data if session.authenticated else None
        self.mails.append(
            Mail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content or b"",
                _over_tls(server),
                login,
            )
        )
        return "250 Message accepted for delivery"


def _over_tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@asynccontextmanager
async def smtp_relay(
    relay: SmtpRelay, context: ssl.SSLContext | None, *, implicit_tls: bool = False
) -> AsyncIterator[SmtpRelay]:
    """aiosmtpd on a free loopback port: STARTTLS offered (and required) when a context
    is given, or TLS from the first byte with ``implicit_tls``; AUTH only over TLS."""
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            relay,
            hostname="relay.test",
            tls_context=None if implicit_tls else context,
            require_starttls=context is not None and not implicit_tls,
            authenticator=relay.authenticator,
            # aiosmtpd only knows STARTTLS as TLS; under implicit TLS the authenticator
            # records that the login came over TLS instead.
            auth_require_tls=not implicit_tls,
            loop=loop,
        )

    server = await loop.create_server(
        factory, "127.0.0.1", 0, ssl=context if implicit_tls else None
    )
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        server.close()
        await server.wait_closed()
