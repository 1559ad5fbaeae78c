"""Approve, deny and acknowledge links as a person on call uses them: from a real e-mail
(aiosmtpd on loopback) and a real Slack payload (the local receiver that checks Block
Kit), opened in Debian's Chromium at phone width, the button clicked, and the real
agent acting (a `command` step touching a file) with the audit naming the recipient.

Screenshots of every page land in ``test-artifacts/links/`` (ignored by git).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect

from kit.agent_harness import AgentProcess
from kit.receivers import (
    SLACK_PATH,
    Receiver,
    SmtpRelay,
    make_certificate,
    server_context,
    serving,
    slack_app,
    smtp_relay,
)
from medic.notify.links import Claim, LinkSigner

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "links"
PHONE = {"width": 390, "height": 844}
ALICE, BOB = "alice@example.com", "bob@example.com"
POLICIES = ("mail-approve", "chat-approve", "mail-deny", "chat-ack")


@dataclass
class World:
    agent: AgentProcess
    relay: SmtpRelay
    slack: Receiver
    files: Path

    def mail_links(self, policy: str, to: str) -> dict[str, str]:
        """The links in the e-mail about ``policy`` that ``to`` received."""
        for mail in self.relay.mails:
            msg = email.message_from_bytes(mail.content, policy=email.policy.default)
            if mail.rcpt_tos == [to] and policy in str(msg["Subject"]):
                body = msg.get_body(("plain",))
                assert body is not None
                text = body.get_content().replace("\r\n", "\n")
                return dict(re.findall(r"^(Approve|Deny|Acknowledge): (\S+)$", text, re.M))
        raise AssertionError(f"no mail about {policy} to {to}: {len(self.relay.mails)} mails")

    def slack_buttons(self, policy: str) -> dict[str, str]:
        """The link buttons of the Slack message about ``policy`` (checked as Slack would)."""
        for seen in self.slack.requests:
            blocks = seen.json["blocks"]
            if policy in blocks[0]["text"]["text"]:
                assert seen.problems == []
                (actions,) = [b for b in blocks if b["type"] == "actions"]
                return {e["text"]["text"]: e["url"] for e in actions["elements"]}
        raise AssertionError(f"no Slack message about {policy}")

    def wait_sent(self) -> None:
        """Every policy's request reached both channels (two mails, one Slack post each)."""
        self.agent.wait_for(
            lambda: (
                len(self.relay.mails) >= 2 * len(POLICIES)
                and len(self.slack.requests) >= len(POLICIES)
            ),
            what="the approval requests by mail and Slack",
            timeout=30,
        )


def _policy(name: str, flag: Path) -> dict[str, Any]:
    """Fires at once (``flag`` is missing) and asks a human before touching it."""
    return {
        "name": name,
        "probe": {"type": "file", "path": str(flag), "every": "1h"},
        "when": "not exists",
        "remediate": [{"command": {"argv": ["touch", str(flag)], "timeout": "10s"}}],
        "verify": {"after": "500ms"},
        "approval": {"required": True, "timeout": "30m", "notify": ["mail", "chat"]},
        "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A real agent whose approval requests go to a real SMTP relay and a Slack receiver."""
    root = tmp_path_factory.mktemp("links")
    cert, key = make_certificate(root)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    relay, slack = SmtpRelay(), Receiver()
    mail_cm = smtp_relay(relay, server_context(cert, key))
    slack_cm = serving(slack_app(slack))
    asyncio.run_coroutine_threadsafe(mail_cm.__aenter__(), loop).result(10)
    slack.url = asyncio.run_coroutine_threadsafe(slack_cm.__aenter__(), loop).result(10)
    agent = AgentProcess(root / "agent")
    config = yaml.safe_load(agent.config.read_text())
    config["api"]["link_base"] = f"http://127.0.0.1:{agent.port}/"
    config["notifiers"] = {
        "mail": {
            "type": "email",
            "host": "127.0.0.1",
            "port": relay.port,
            "from": "Medic <medic@example.com>",
            "to": [ALICE, BOB],
            "ca_file": str(cert),
        },
        "chat": {"type": "slack", "webhook_url": {"env": "MEDIC_TEST_SLACK_URL"}},
    }
    agent.config.write_text(yaml.safe_dump(config))
    files = root / "files"
    files.mkdir()
    agent.write_policy("links.yaml", [_policy(name, files / name) for name in POLICIES])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MEDIC_TEST_SLACK_URL", slack.url + SLACK_PATH)
        agent.start()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nlink page screenshots: {ARTIFACTS}")
    try:
        yield World(agent, relay, slack, files)
    finally:
        agent.stop()
        asyncio.run_coroutine_threadsafe(slack_cm.__aexit__(None, None, None), loop).result(10)
        asyncio.run_coroutine_threadsafe(mail_cm.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A phone-sized tab with no API token anywhere."""
    context = browser.new_context(viewport=PHONE, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def fits_the_phone(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def of(world: World, kind: str, policy: str) -> list[dict[str, Any]]:
    return [e for e in world.agent.events(kind) if e["policy"] == policy]


def confirm_and_click(page: Page, url: str, verb: str, name: str) -> None:
    """Open ``url``: the page asks and changes nothing; click its button."""
    response = page.goto(url)
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading")).to_contain_text(f"{verb} incident")
    assert fits_the_phone(page)
    shot(page, f"{name}-confirm")
    page.get_by_role("button", name=verb).click()


def test_approve_link_in_a_real_email(world: World, phone: Page) -> None:
    """Alice's e-mail: its approve link, opened and clicked, makes the agent act; the audit
    names alice (the recipient) and says the answer came through a link."""
    world.wait_sent()
    links = world.mail_links("mail-approve", ALICE)
    assert set(links) == {"Approve", "Deny", "Acknowledge"}
    assert links != world.mail_links("mail-approve", BOB)  # each recipient, own links
    assert of(world, "approval.granted", "mail-approve") == []  # GET alone changes nothing
    confirm_and_click(phone, links["Approve"], "Approve", "email-approve")
    expect(phone.get_by_role("heading")).to_have_text(
        "Approved. Medic acts now, within its limits."
    )
    shot(phone, "email-approve-done")
    world.agent.wait_for(
        lambda: bool(of(world, "verify.healed", "mail-approve")), what="the action and its verify"
    )
    assert (world.files / "mail-approve").exists()
    (granted,) = of(world, "approval.granted", "mail-approve")
    assert granted["details"] == {"by": ALICE, "comment": None, "via": "link"}


def test_approve_button_in_a_real_slack_message(world: World, phone: Page) -> None:
    """The Slack message's Approve button URL, opened and clicked, approves as `chat`."""
    world.wait_sent()
    buttons = world.slack_buttons("chat-approve")
    assert list(buttons) == ["Approve", "Deny", "Acknowledge"]
    confirm_and_click(phone, buttons["Approve"], "Approve", "slack-approve")
    expect(phone.get_by_role("heading")).to_contain_text("Approved.")
    world.agent.wait_for(
        lambda: bool(of(world, "verify.healed", "chat-approve")), what="the action and its verify"
    )
    (granted,) = of(world, "approval.granted", "chat-approve")
    assert granted["details"] == {"by": "chat", "comment": None, "via": "link"}


def test_deny_link(world: World, phone: Page) -> None:
    """Bob's deny link denies: nothing runs, and the audit names bob."""
    world.wait_sent()
    confirm_and_click(phone, world.mail_links("mail-deny", BOB)["Deny"], "Deny", "email-deny")
    expect(phone.get_by_role("heading")).to_contain_text("Denied.")
    world.agent.wait_for(
        lambda: bool(of(world, "approval.denied", "mail-deny")), what="approval.denied"
    )
    (denied,) = of(world, "approval.denied", "mail-deny")
    assert denied["details"] == {"by": BOB, "comment": None, "via": "link"}
    assert of(world, "action.started", "mail-deny") == []
    assert not (world.files / "mail-deny").exists()


def test_ack_link(world: World, phone: Page) -> None:
    """The acknowledge button records that `chat` has seen the incident; it still waits."""
    world.wait_sent()
    url = world.slack_buttons("chat-ack")["Acknowledge"]
    confirm_and_click(phone, url, "Acknowledge", "slack-ack")
    expect(phone.get_by_role("heading")).to_contain_text("Acknowledged.")
    world.agent.wait_for(
        lambda: bool(of(world, "incident.acknowledged", "chat-ack")), what="incident.acknowledged"
    )
    (ack,) = of(world, "incident.acknowledged", "chat-ack")
    assert ack["details"] == {"by": "chat", "via": "link"}
    assert of(world, "action.started", "chat-ack") == []


def test_a_used_link_is_refused_also_after_a_restart(world: World, phone: Page) -> None:
    """A link works once: opened again (even after the agent restarts) it is a 410 page
    without a button, and a replayed POST does nothing."""
    world.wait_sent()
    url = world.mail_links("mail-approve", BOB)["Acknowledge"]
    confirm_and_click(phone, url, "Acknowledge", "reuse-first")
    expect(phone.get_by_role("heading")).to_contain_text("Acknowledged.")
    world.agent.stop()
    world.agent.start()
    world.agent.wait_for(lambda: _status(url) != 0, what="the API after the restart")
    response = phone.goto(url)
    assert response is not None and response.status == 410
    expect(phone.get_by_role("heading")).to_have_text("This link was already used")
    assert phone.get_by_role("button").count() == 0
    shot(phone, "reuse-refused")
    assert _status(url, post=True) == 410
    assert len(of(world, "incident.acknowledged", "mail-approve")) == 1


def test_expired_and_forged_links_are_refused(world: World, phone: Page) -> None:
    """An expired token is a 410 page, a forged one a 403 page; neither acts."""
    world.wait_sent()
    genuine = world.mail_links("mail-deny", ALICE)["Approve"]
    token = genuine.rsplit("/", 1)[1]
    key = (world.agent.root / "state" / "links.key").read_text().strip().encode()
    signer = LinkSigner(key, lambda: genuine.split("/links/")[0])
    claim = signer.verify(token, time.time())
    expired = signer.url(Claim(claim.incident, "approve", ALICE, int(time.time()) - 60))
    response = phone.goto(expired)
    assert response is not None and response.status == 410
    expect(phone.get_by_role("heading")).to_have_text("This link has expired")
    shot(phone, "expired")
    forged = signer.url(Claim(claim.incident, "approve", "mallory@example.com", claim.expires))
    forged = forged.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]
    response = phone.goto(forged)
    assert response is not None and response.status == 403
    expect(phone.get_by_role("heading")).to_have_text("Not a Medic link")
    shot(phone, "forged")
    assert _status(forged, post=True) == 403 and _status(expired, post=True) == 410
    assert of(world, "approval.granted", "mail-deny") == []


def _status(url: str, *, post: bool = False) -> int:
    """The HTTP status of a GET (or an empty POST) to ``url``; 0 when nothing answers."""
    request = urllib.request.Request(url, data=b"" if post else None)  # noqa: S310 -- the agent's own link
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 -- same
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0
