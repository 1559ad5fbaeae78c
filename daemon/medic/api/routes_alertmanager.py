"""Alertmanager's webhook receiver: ``POST /api/v1/alertmanager``.

Alertmanager (``webhook_configs``, payload version 4) posts the alerts of a group
whenever the group changes and every ``repeat_interval``; each alert is written into
:data:`medic.alerts.BOOK`, where ``alertmanager`` probes find them. It changes the
agent's state, so the auth middleware requires the bearer token.

The payload is checked before anything is recorded: a malformed one is refused whole
with a 400 naming the first field at fault (``alerts[2].labels: ...``), so a bad
sender never leaves half a group in the book. Bodies are read with their own limit
(larger than the API's usual one: a group can hold many alerts) and time limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from medic import alerts, humanize
from medic.alerts import Alert
from medic.api.body import BadJson, parse_json
from medic.api.errors import ApiError, dumps
from medic.bounds import OutOfBounds, moment

log = structlog.get_logger("medic.api")

PATH = "/api/v1/alertmanager"
MAX_BODY = 1024 * 1024
READ_TIMEOUT = 10.0
VERSION = "4"
STATUSES = ("firing", "resolved")
MAX_FINGERPRINT = 128
# The longest label, annotation or other string of a payload (runbooks can be long).
MAX_STRING = 64 * 1024
CONFIG_HINT = "point an Alertmanager webhook_configs receiver here (docs/alertmanager.md)"


class PayloadError(ValueError):
    """What is wrong with a webhook payload, naming the field (``alerts[0].status``)."""


def bad_payload(message: str) -> ApiError:
    return ApiError(400, message, code="bad_payload", hint=CONFIG_HINT)


async def read_body(request: web.Request) -> bytes:
    """The request body, refused (413) past ``MAX_BODY`` and (408) after ``READ_TIMEOUT``."""
    too_large = ApiError(
        413,
        f"the body is larger than {humanize.size(MAX_BODY)}",
        hint="set max_alerts on the webhook receiver so a notification stays smaller",
    )
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > MAX_BODY:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"the body did not arrive within {READ_TIMEOUT:g}s") from None
    return b"".join(chunks)


def parse_time(value: Any, where: str) -> float | None:
    """RFC 3339 text as Alertmanager writes it; Go's zero time (year 1) means none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{where}: must be an RFC 3339 time string, not {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where}: {value!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise PayloadError(f"{where}: {value!r} has no time zone (end it with Z or +00:00)")
    if parsed.year <= 1:
        return None
    try:
        return moment(value)
    except OutOfBounds as exc:
        raise PayloadError(f"{where}: {exc.message}") from None


def _strings(value: Any, where: str, *, required: bool) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict) or (required and not value):
        what = "a non-empty object" if required else "an object"
        raise PayloadError(f"{where}: must be {what} of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{where}.{key}: must be a string, not {type(item).__name__}")
    return dict(value)


def derived_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable id from the labels, for senders older than Alertmanager 0.19."""
    text = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_alert(raw: Any, where: str, received_at: float) -> Alert:
    """One entry of ``alerts``, checked field by field."""
    if not isinstance(raw, dict):
        raise PayloadError(f"{where}: must be an object")
    status = raw.get("status")
    if status not in STATUSES:
        raise PayloadError(f"{where}.status: must be firing or resolved, not {status!r}")
    labels = _strings(raw.get("labels"), f"{where}.labels", required=True)
    fingerprint = raw.get("fingerprint") or derived_fingerprint(labels)
    if not isinstance(fingerprint, str) or len(fingerprint) > MAX_FINGERPRINT:
        raise PayloadError(f"{where}.fingerprint: must be a string of at most 128 characters")
    url = raw.get("generatorURL") or ""
    if not isinstance(url, str):
        raise PayloadError(f"{where}.generatorURL: must be a string")
    return Alert(
        fingerprint=fingerprint,
        status=status,
        labels=labels,
        annotations=_strings(raw.get("annotations"), f"{where}.annotations", required=False),
        starts_at=parse_time(raw.get("startsAt"), f"{where}.startsAt"),
        ends_at=parse_time(raw.get("endsAt"), f"{where}.endsAt"),
        generator_url=url,
        received_at=received_at,
    )


def parse_payload(payload: Any, received_at: float) -> list[Alert]:
    """Every alert of a version-4 webhook payload; PayloadError on the first fault."""
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object (Alertmanager's webhook payload)")
    version = payload.get("version")
    if version != VERSION:
        raise PayloadError(
            f"version: {version!r} is not supported; Medic reads webhook payload version '4'"
        )
    raw_alerts = payload.get("alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError("alerts: must be a list")
    return [parse_alert(raw, f"alerts[{i}]", received_at) for i, raw in enumerate(raw_alerts)]


async def receive(request: web.Request) -> web.Response:
    """Alertmanager's webhook: record the alerts it posts for alertmanager probes."""
    body = await read_body(request)
    try:
        payload = parse_json(body, max_string=MAX_STRING)
    except BadJson as exc:
        raise bad_payload(str(exc)) from None
    try:
        received = parse_payload(payload, time.time())
    except PayloadError as exc:
        raise bad_payload(str(exc)) from None
    changed = alerts.BOOK.update(received)
    truncated = payload.get("truncatedAlerts")
    if isinstance(truncated, int) and truncated > 0:
        log.warning("alertmanager.truncated", receiver=payload.get("receiver"), left_out=truncated)
    if changed:
        log.info(
            "alertmanager.alerts",
            receiver=payload.get("receiver"),
            received=len(received),
            changed=changed,
            firing=sum(1 for a in received if a.firing),
        )
    return web.json_response({"accepted": len(received)}, dumps=dumps)


def routes() -> list[web.RouteDef]:
    return [web.post(PATH, receive)]
