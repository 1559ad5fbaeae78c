"""The `webhook` notifier against a real receiver, and the HMAC helpers it signs with."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from medic import __version__
from medic.errors import ConfigError, NotifyError
from medic.notify import Notification, notifiers
from medic.notify.signing import sign, verify
from medic.notify.webhook import WebhookNotifier

SECRET = "hook-secret-42"

NOTIFICATION = Notification(
    kind="escalation",
    incident="inc-1",
    policy="web-down",
    target="web",
    host="node-1",
    reason="verify_failed",
    summary="still down after restart — 2 attempts",
    time="2024-05-01T03:00:00Z",
    values={"running": False},
    history=({"action": "command", "ok": False},),
)

# The exact bytes a receiver gets: compact, sorted keys, UTF-8 (not \\u escapes).
EXPECTED_BODY = (
    '{"dry_run":false,"history":[{"action":"command","ok":false}],"host":"node-1",'
    '"incident":"inc-1","kind":"escalation","policy":"web-down","reason":"verify_failed",'
    '"summary":"still down after restart — 2 attempts","target":"web",'
    '"time":"2024-05-01T03:00:00Z","values":{"running":false}}'
).encode()


@dataclass
class Delivery:
    headers: dict[str, str]
    names: list[str]
    body: bytes
    signature_ok: bool


@dataclass
class Receiver:
    url: str = ""
    deliveries: list[Delivery] = field(default_factory=list)


def recompute(secret: str, timestamp: str, body: bytes) -> str:
    """The signature, computed here independently of medic.notify.signing."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 that checks signatures and records deliveries."""
    rec = Receiver()

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        timestamp = request.headers.get("X-Medic-Timestamp", "")
        signature = request.headers.get("X-Medic-Signature", "")
        ok = bool(signature) and hmac.compare_digest(signature, recompute(SECRET, timestamp, body))
        names = [name.lower() for name in request.headers]
        rec.deliveries.append(Delivery(dict(request.headers), names, body, ok))
        return web.Response(status=204)

    async def fail(request: web.Request) -> web.Response:
        return web.Response(status=503, reason="Service Unavailable", text="maintenance")

    async def hang(request: web.Request) -> web.Response:
        await asyncio.sleep(3600)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/fail", fail)
    app.router.add_post("/hang", hang)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    rec.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield rec
    await runner.cleanup()


def test_registered_under_its_name() -> None:
    """The registry maps `webhook` to WebhookNotifier."""
    assert notifiers.get("webhook") is WebhookNotifier


@pytest.mark.integration
@pytest.mark.asyncio
@pytest.mark.parametrize("spelling", ["env", "file", "secret_env"])
async def test_signed_delivery(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, spelling: str
) -> None:
    """The receiver gets the exact JSON body, medic's headers and a valid signature,
    whichever way the key is named ({env:}, {file:}, the old secret_env)."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    (tmp_path / "key").write_text(SECRET + "\n")
    named: dict[str, Any] = {
        "env": {"secret": {"env": "HOOK_SECRET"}},
        "file": {"secret": {"file": str(tmp_path / "key")}},
        "secret_env": {"secret_env": "HOOK_SECRET"},
    }[spelling]
    notifier = WebhookNotifier(
        "oncall",
        {
            "url": receiver.url + "/hook",
            **named,
            "headers": {"X-Team": "web", "content-type": "text/plain", "x-medic-event": "forged"},
        },
    )
    before = int(time.time())
    await notifier.send(NOTIFICATION)
    [delivery] = receiver.deliveries
    assert delivery.body == EXPECTED_BODY
    assert delivery.signature_ok
    headers = delivery.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"medic/{__version__}"
    assert headers["X-Medic-Event"] == "escalation"
    assert headers["X-Medic-Delivery"] == "inc-1:escalation:verify_failed"
    assert headers["X-Team"] == "web"
    assert delivery.names.count("content-type") == 1
    assert delivery.names.count("x-medic-event") == 1
    assert before <= int(headers["X-Medic-Timestamp"]) <= int(time.time())
    assert verify(SECRET, headers["X-Medic-Timestamp"], delivery.body, headers["X-Medic-Signature"])


@pytest.mark.integration
@pytest.mark.asyncio
async def test_unsigned_without_secret(receiver: Receiver) -> None:
    """Without secret_env there are no timestamp or signature headers."""
    resolve = Notification(
        kind="resolve",
        incident="inc-1",
        policy="web-down",
        target="web",
        host="node-1",
        reason="healed",
        summary="healed",
        time="2024-05-01T03:05:00Z",
    )
    await WebhookNotifier("oncall", {"url": receiver.url + "/hook"}).send(resolve)
    [delivery] = receiver.deliveries
    assert delivery.headers["X-Medic-Event"] == "resolve"
    assert delivery.headers["X-Medic-Delivery"] == "inc-1:resolve:healed"
    assert "X-Medic-Signature" not in delivery.headers
    assert "X-Medic-Timestamp" not in delivery.headers


@pytest.mark.asyncio
async def test_missing_secret_refuses_to_send_unsigned(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secret_env that is not set raises NotifyError and sends nothing."""
    monkeypatch.delenv("HOOK_SECRET", raising=False)
    notifier = WebhookNotifier(
        "oncall", {"url": receiver.url + "/hook", "secret_env": "HOOK_SECRET"}
    )
    with pytest.raises(NotifyError) as caught:
        await notifier.send(NOTIFICATION)
    assert caught.value.message == (
        "webhook oncall: secret: environment variable HOOK_SECRET is not set"
    )
    assert caught.value.hint == (
        "set HOOK_SECRET in the agent's environment (systemd: EnvironmentFile=)"
    )
    assert receiver.deliveries == []


@pytest.mark.integration
@pytest.mark.asyncio
async def test_non_2xx_raises_with_status(receiver: Receiver) -> None:
    """A 503 answer raises NotifyError carrying the status and the body excerpt."""
    notifier = WebhookNotifier("oncall", {"url": receiver.url + "/fail"})
    with pytest.raises(NotifyError) as caught:
        await notifier.send(NOTIFICATION)
    assert str(caught.value) == (
        f"webhook oncall: {receiver.url}/fail answered 503 Service Unavailable"
    )
    assert caught.value.fields["status"] == 503
    assert caught.value.fields["body"] == "maintenance"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_timeout_raises(receiver: Receiver) -> None:
    """A receiver that never answers raises NotifyError at the configured timeout."""
    notifier = WebhookNotifier("oncall", {"url": receiver.url + "/hang", "timeout": "300ms"})
    with pytest.raises(NotifyError) as caught:
        await asyncio.wait_for(notifier.send(NOTIFICATION), 5)
    assert str(caught.value) == f"webhook oncall: {receiver.url}/hang did not answer within 300ms"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_connection_refused_raises() -> None:
    """An endpoint nobody listens on raises NotifyError naming the URL."""
    notifier = WebhookNotifier("pager", {"url": "http://127.0.0.1:1/hook"})
    with pytest.raises(NotifyError) as caught:
        await notifier.send(NOTIFICATION)
    assert str(caught.value).startswith(
        "webhook pager: cannot reach http://127.0.0.1:1/hook: Cannot connect to host"
    )


def test_timeout_option_forms() -> None:
    """timeout takes seconds or a duration string and defaults to 10 s."""
    assert WebhookNotifier("a", {"url": "http://x"}).timeout == 10.0
    assert WebhookNotifier("a", {"url": "http://x", "timeout": 3}).timeout == 3.0
    assert WebhookNotifier("a", {"url": "http://x", "timeout": "1m"}).timeout == 60.0
    with pytest.raises(ConfigError) as caught:
        WebhookNotifier("a", {"url": "http://x", "timeout": "soon"})
    assert caught.value.message == (
        "notifiers.a.timeout: 'soon' is not a duration: write a number with a unit, "
        "like 500ms, 30s, 5m, 1h or 1h30m"
    )


def test_sign_matches_independent_hmac() -> None:
    """sign() is HMAC-SHA256 over "<timestamp>.<body>", prefixed with sha256=."""
    assert sign(SECRET, 1700000000, b'{"a":1}') == recompute(SECRET, "1700000000", b'{"a":1}')
    assert sign(SECRET.encode(), "1700000000", b"x") == sign(SECRET, 1700000000, b"x")


def test_verify_accepts_only_fresh_untampered_signatures() -> None:
    """verify() rejects wrong keys, changed bodies, stale or future times, bad headers."""
    now, body = 1_700_000_000, b'{"kind":"escalation"}'
    good = sign(SECRET, now, body)
    assert verify(SECRET, now, body, good, now=now + 10)
    assert verify(SECRET, str(now), body, good, now=now - 10)
    assert not verify("other-secret", now, body, good, now=now)
    assert not verify(SECRET, now, body + b" ", good, now=now)
    assert not verify(SECRET, now, body, good, now=now + 301)
    assert not verify(SECRET, now, body, good, max_age=5, now=now + 6)
    assert not verify(SECRET, now, body, good, now=now - 301)
    assert not verify(SECRET, now, body, good.removeprefix("sha256="), now=now)
    assert not verify(SECRET, now, body, "sha1=" + good[7:], now=now)
    assert not verify(SECRET, "soon", body, good, now=now)
    assert not verify(SECRET, now + 1, body, good, now=now)
