"""The `email` notifier against a real SMTP relay (aiosmtpd) on loopback, and the shared
plain-text rendering (medic.notify.message) that is its body."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kit.notifications import ESCALATION, INCIDENT
from kit.receivers import SmtpRelay, make_certificate, server_context, smtp_relay
from medic import __version__
from medic.errors import ConfigError, NotifyError
from medic.notify import message, notifiers
from medic.notify.email import EmailNotifier
from medic.notify.email_message import subject

LINK = "https://medic.node1.example:9325"
PASSWORD = "pw-smtp-42"

RESOLVE = replace(ESCALATION, kind="resolve", reason="healed", summary="healed", history=())

EXPECTED_BODY = f"""\
Escalated: node-process-down on xai-node (node1)

xai-node still not running after 2 attempts

Policy:   node-process-down
Target:   xai-node
Host:     node1
Incident: {INCIDENT}
Reason:   remediation_failed
Time:     2024-05-01T03:00:12.000000Z

Measured values:
  rss_bytes: 1.5 GiB
  running: false
  uptime: 1h30m

What was tried:
  1. command: failed - exited 1
  2. command: timed out - after 30s

Incident in Medic: {LINK}/#incident={INCIDENT}
Incident (API): {LINK}/api/v1/incidents/{INCIDENT}
"""


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (cert, key)."""
    return make_certificate(tmp_path)


@pytest_asyncio.fixture
async def relay(certificate: tuple[Path, Path]) -> AsyncIterator[SmtpRelay]:
    """A relay that requires STARTTLS and takes AUTH (user medic) only over TLS."""
    async with smtp_relay(SmtpRelay(users={"medic": PASSWORD}), server_context(*certificate)) as r:
        yield r


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    """The SMTP password, in $SMTP_PASSWORD."""
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    return PASSWORD


def options(relay: SmtpRelay, cert: Path | None, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": relay.port,
        "username": "medic",
        "password": {"env": "SMTP_PASSWORD"},
        "from": "Medic <medic@example.com>",
        "to": ["oncall@example.com", "lead@example.com"],
        "link_base": LINK,
        "timeout": 10,
    }
    if cert is not None:
        base["ca_file"] = str(cert)
    return base | extra


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def assert_no_password(exc: NotifyError) -> None:
    assert PASSWORD not in str(exc) + json.dumps(exc.to_dict(), default=str)


def test_registered_under_its_name() -> None:
    """The registry maps `email` to EmailNotifier."""
    assert notifiers.get("email") is EmailNotifier


@pytest.mark.integration
@pytest.mark.asyncio
async def test_delivered_over_starttls_with_auth(
    relay: SmtpRelay, certificate: tuple[Path, Path], password: str
) -> None:
    """The relay receives the message after STARTTLS and a login made over TLS."""
    await EmailNotifier("ops-mail", options(relay, certificate[0])).send(ESCALATION)
    assert relay.logins == [("medic", True, True)]
    [mail] = relay.mails
    assert mail.over_tls
    assert mail.login == "medic"
    assert mail.mail_from == "medic@example.com"
    assert mail.rcpt_tos == ["oncall@example.com", "lead@example.com"]
    msg = parse(mail.content)
    assert msg["Subject"] == "[medic] ESCALATED node-process-down on xai-node (node1)"
    assert msg["From"] == "Medic <medic@example.com>"
    assert msg["To"] == "oncall@example.com, lead@example.com"
    assert msg["Date"] == "Wed, 01 May 2024 03:00:12 +0000"
    assert msg["Message-ID"] == f"<medic.{INCIDENT}.remediation_failed@example.com>"
    assert msg["References"] == f"<medic.{INCIDENT}@example.com>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Medic-Event"] == "escalation"
    assert msg["X-Medic-Incident"] == INCIDENT
    assert msg["User-Agent"] == f"medic/{__version__}"
    assert msg["In-Reply-To"] is None
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n") == EXPECTED_BODY  # CRLF on the wire


@pytest.mark.integration
@pytest.mark.asyncio
async def test_resolve_threads_under_the_escalation(
    relay: SmtpRelay, certificate: tuple[Path, Path], password: str
) -> None:
    """Escalation and resolve share the incident's thread root; a retry keeps the same id."""
    notifier = EmailNotifier("ops-mail", options(relay, certificate[0], subject_prefix="[node1]"))
    await notifier.send(ESCALATION)
    await notifier.send(RESOLVE)
    first, second = (parse(m.content) for m in relay.mails)
    assert second["Subject"] == "[node1] RESOLVED node-process-down on xai-node (node1)"
    assert second["Message-ID"] == f"<medic.{INCIDENT}.resolve@example.com>"
    assert second["In-Reply-To"] == f"<medic.{INCIDENT}@example.com>"
    assert second["References"] == first["References"] == f"<medic.{INCIDENT}@example.com>"
    other = EmailNotifier("ops-mail", options(relay, certificate[0]))
    await other.send(RESOLVE)
    assert parse(relay.mails[2].content)["Message-ID"] == second["Message-ID"]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_wrong_password(
    relay: SmtpRelay, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused login fails with the relay's answer, never the password."""
    monkeypatch.setenv("SMTP_PASSWORD", "not-" + PASSWORD)
    with pytest.raises(NotifyError) as caught:
        await EmailNotifier("ops-mail", options(relay, certificate[0])).send(ESCALATION)
    exc = caught.value
    assert exc.message == (
        f"email ops-mail: 127.0.0.1:{relay.port} refused the login of medic: "
        "535 5.7.8 Authentication credentials invalid"
    )
    assert exc.hint == "check username and the password in $SMTP_PASSWORD"
    assert "not-" + PASSWORD not in str(exc) + json.dumps(exc.to_dict(), default=str)
    assert set(relay.logins) == {("medic", False, True)}  # smtplib tries PLAIN, then LOGIN
    assert relay.mails == []


@pytest.mark.integration
@pytest.mark.asyncio
async def test_untrusted_certificate(relay: SmtpRelay, password: str) -> None:
    """Without ca_file the self-signed relay is not trusted and nothing is sent."""
    with pytest.raises(NotifyError) as caught:
        await EmailNotifier("ops-mail", options(relay, None)).send(ESCALATION)
    exc = caught.value
    assert exc.message == (
        f"email ops-mail: the TLS certificate of 127.0.0.1:{relay.port} is not trusted: "
        "self-signed certificate"
    )
    assert exc.hint == "set ca_file to the CA that signed the relay's certificate"
    assert relay.logins == []
    assert relay.mails == []


@pytest.mark.integration
@pytest.mark.asyncio
async def test_verify_tls_off(relay: SmtpRelay, password: str) -> None:
    """verify_tls: false accepts any certificate; the session is still encrypted."""
    await EmailNotifier("ops-mail", options(relay, None, verify_tls=False)).send(ESCALATION)
    [mail] = relay.mails
    assert mail.over_tls


@pytest.mark.integration
@pytest.mark.asyncio
async def test_relay_without_starttls_is_refused(password: str) -> None:
    """A relay that does not offer STARTTLS gets nothing, least of all the password."""
    async with smtp_relay(SmtpRelay(users={"medic": PASSWORD}), None) as plain:
        with pytest.raises(NotifyError) as caught:
            await EmailNotifier("ops-mail", options(plain, None)).send(ESCALATION)
        assert caught.value.message == (
            f"email ops-mail: 127.0.0.1:{plain.port} does not offer STARTTLS"
        )
        assert plain.logins == []
        assert plain.mails == []


@pytest.mark.integration
@pytest.mark.asyncio
async def test_implicit_tls(certificate: tuple[Path, Path], password: str) -> None:
    """ssl: true speaks TLS from the first byte (port 465 style) and logs in over it."""
    relay = SmtpRelay(users={"medic": PASSWORD})
    async with smtp_relay(relay, server_context(*certificate), implicit_tls=True):
        notifier = EmailNotifier("ops-mail", options(relay, certificate[0], ssl=True))
        await notifier.send(ESCALATION)
    assert relay.logins == [("medic", True, True)]
    [mail] = relay.mails
    assert mail.over_tls


@pytest.mark.integration
@pytest.mark.asyncio
async def test_refused_recipient_is_retried_alone(
    relay: SmtpRelay, certificate: tuple[Path, Path], password: str
) -> None:
    """A refused recipient fails the delivery; the retry goes only to that recipient."""
    relay.refuse = {"lead@example.com"}
    notifier = EmailNotifier("ops-mail", options(relay, certificate[0]))
    with pytest.raises(NotifyError) as caught:
        await notifier.send(ESCALATION)
    assert caught.value.message == (
        f"email ops-mail: 127.0.0.1:{relay.port} refused "
        "lead@example.com (550 5.1.1 mailbox unavailable)"
    )
    relay.refuse = set()
    await notifier.send(ESCALATION)
    assert [m.rcpt_tos for m in relay.mails] == [["oncall@example.com"], ["lead@example.com"]]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_unreachable_relay(password: str) -> None:
    """A refused connection is reported with host and port, retryable."""
    opts = options(SmtpRelay(port=9), None)
    with pytest.raises(NotifyError) as caught:
        await EmailNotifier("ops-mail", opts).send(ESCALATION)
    assert caught.value.message == "email ops-mail: cannot reach 127.0.0.1:9: Connection refused"
    assert caught.value.fields["retryable"] is True
    assert_no_password(caught.value)


def test_options_are_checked() -> None:
    """A username needs a password, and credentials never travel unencrypted."""
    base = {"host": "smtp.example.com", "from": "m@example.com", "to": ["o@example.com"]}
    with pytest.raises(ConfigError) as caught:
        EmailNotifier("ops-mail", {**base, "username": "medic"})
    assert caught.value.message == "notifiers.ops-mail: 'password' is a dependency of 'username'"
    with pytest.raises(ConfigError) as caught:
        EmailNotifier(
            "ops-mail",
            {**base, "username": "m", "password": {"env": "P"}, "starttls": False},
        )
    assert caught.value.message == (
        "notifiers.ops-mail: username and password would be sent unencrypted"
    )
    assert EmailNotifier("ops-mail", {**base, "ssl": True}).port == 465


def test_subject_is_one_line() -> None:
    """Line breaks in names cannot inject headers: the subject is a single line."""
    sneaky = replace(ESCALATION, policy="p\r\nBcc: all@example.com")
    assert subject(sneaky) == ("[medic] ESCALATED p Bcc: all@example.com on xai-node (node1)")


def test_values_are_formatted_for_reading() -> None:
    """Bytes, durations, booleans, floats and structures each read naturally."""
    fmt = message.format_value
    assert fmt("rss_bytes", 512) == "512 B"
    assert fmt("free_bytes", 1536) == "1.5 KiB"
    assert fmt("size_bytes", 3 * 1024**4) == "3.0 TiB"
    assert fmt("age", 90) == "1m30s"
    assert fmt("expires_seconds", -3600) == "-1h"
    assert fmt("uptime", 0.25) == "250ms"
    assert fmt("percent", 93.456) == "93.46"
    assert fmt("count", 3.0) == "3"
    assert fmt("running", True) == "true"
    assert fmt("status", None) == "none"
    assert fmt("labels", {"a": [1, 2]}) == '{"a": [1, 2]}'
    assert fmt("page", "x" * 500) == "x" * 199 + "…"


def test_clipping_helpers() -> None:
    """Long lists keep their head (or tail) and say how much was left out."""
    lines = [str(i) for i in range(10)]
    assert message.clip_lines(lines, 4) == ["0", "1", "2", "(and 7 more)"]
    assert message.clip_lines(lines, 4, keep="tail") == ["(7 earlier not shown)", "7", "8", "9"]
    assert message.clip_lines(lines, 10) == lines
    assert message.truncate("abcdef", 4) == "abc…"
    assert message.truncate("abc", 4) == "abc"


def test_plain_text_without_link_or_history() -> None:
    """Without history or link_base, those sections are left out of the text."""
    assert message.text(RESOLVE) == (
        "Resolved: node-process-down on xai-node (node1)\n\nhealed\n\n"
        "Policy:   node-process-down\nTarget:   xai-node\nHost:     node1\n"
        f"Incident: {INCIDENT}\nReason:   healed\nTime:     2024-05-01T03:00:12.000000Z\n\n"
        "Measured values:\n  rss_bytes: 1.5 GiB\n  running: false\n  uptime: 1h30m\n"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_silent_relay_times_out(password: str) -> None:
    """A relay that accepts the connection but never greets fails at the timeout."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client gives up
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        opts = options(SmtpRelay(port=port), None, timeout="300ms")
        with pytest.raises(NotifyError) as caught:
            await EmailNotifier("ops-mail", opts).send(ESCALATION)
    finally:
        server.close()
    assert caught.value.message == f"email ops-mail: 127.0.0.1:{port} did not answer within 300ms"
    assert caught.value.fields["retryable"] is True
