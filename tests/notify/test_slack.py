"""The `slack` notifier against a local incoming-webhook receiver that checks Block Kit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio

from kit.notifications import ESCALATION, INCIDENT
from kit.receivers import SLACK_PATH, Receiver, serving, slack_app, slack_problems
from medic import __version__
from medic.errors import ConfigError, NotifyError
from medic.notify import notifiers
from medic.notify.slack import SlackNotifier, escape, mrkdwn

LINK = "https://medic.node1.example:9325"

RESOLVE = replace(
    ESCALATION,
    kind="resolve",
    reason="healed",
    summary="healed by remediation",
    values={},
    history=(),
)


@pytest_asyncio.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Receiver]:
    """A Slack incoming webhook on 127.0.0.1; its URL is in $SLACK_URL."""
    rec = Receiver()
    async with serving(slack_app(rec)) as url:
        rec.url = url
        monkeypatch.setenv("SLACK_URL", url + SLACK_PATH)
        yield rec


def notifier(**options: object) -> SlackNotifier:
    return SlackNotifier("ops-chat", {"webhook_url": {"env": "SLACK_URL"}, **options})


def assert_no_secret(exc: NotifyError) -> None:
    """Neither the webhook URL nor its secret path is in the error."""
    text = str(exc) + json.dumps(exc.to_dict(), default=str)
    assert "s3cr3tWebh00kT0ken" not in text
    assert SLACK_PATH not in text


def test_registered_under_its_name() -> None:
    """The registry maps `slack` to SlackNotifier."""
    assert notifiers.get("slack") is SlackNotifier


@pytest.mark.integration
@pytest.mark.asyncio
async def test_escalation_payload(slack: Receiver) -> None:
    """An escalation is one Block Kit message: header, summary, facts, values, history, links."""
    await notifier(link_base=LINK).send(ESCALATION)
    [seen] = slack.requests
    assert seen.problems == []
    assert seen.path == SLACK_PATH
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["User-Agent"] == f"medic/{__version__}"
    page = f"{LINK}/#incident={INCIDENT}"
    api = f"{LINK}/api/v1/incidents/{INCIDENT}"
    assert seen.json == {
        "text": "Escalated: node-process-down on xai-node (node1): "
        "xai-node still not running after 2 attempts",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": "Escalated: node-process-down on xai-node (node1)",
                },
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "xai-node still not running after 2 attempts"},
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": "*Policy*\nnode-process-down"},
                    {"type": "mrkdwn", "text": "*Target*\nxai-node"},
                    {"type": "mrkdwn", "text": "*Reason*\nremediation_failed"},
                    {"type": "mrkdwn", "text": "*Time*\n2024-05-01T03:00:12.000000Z"},
                ],
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Measured values*\nrss_bytes: 1.5 GiB\nrunning: false\nuptime: 1h30m",
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*What was tried*\n1. command: failed - exited 1\n"
                    "2. command: timed out - after 30s",
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"<{page}|Incident in Medic> · <{api}|Incident (API)>",
                },
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"host *node1* · incident `{INCIDENT}` · medic {__version__}",
                    }
                ],
            },
        ],
    }


@pytest.mark.integration
@pytest.mark.asyncio
async def test_resolve_is_short(slack: Receiver) -> None:
    """A resolve says `Resolved:` and carries only the header, summary and context."""
    await notifier().send(RESOLVE)
    [seen] = slack.requests
    assert seen.problems == []
    body = seen.json
    assert body["text"] == "Resolved: node-process-down on xai-node (node1): healed by remediation"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]
    assert body["blocks"][0]["text"]["text"] == "Resolved: node-process-down on xai-node (node1)"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_mrkdwn_is_escaped(slack: Receiver) -> None:
    """Text from targets cannot mention @channel or forge links: & < > are escaped."""
    sneaky = replace(ESCALATION, summary="<!channel> see <https://evil.example|docs> & go")
    await notifier().send(sneaky)
    [seen] = slack.requests
    assert seen.problems == []
    assert b"<!channel>" not in seen.body
    assert seen.json["blocks"][1]["text"]["text"] == (
        "&lt;!channel&gt; see &lt;https://evil.example|docs&gt; &amp; go"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_long_content_fits_slack_limits(slack: Receiver) -> None:
    """Huge names, summaries, values and histories are cut to Block Kit's limits."""
    big = replace(
        ESCALATION,
        policy="p" * 300,
        summary="<&>" * 3000,
        reason="r" * 5000,
        values={f"value_{i:02}": "x" * 500 for i in range(60)},
        history=tuple({"action": "command", "outcome": "action.failed"} for _ in range(200)),
    )
    await notifier(link_base=LINK).send(big)
    [seen] = slack.requests
    assert seen.problems == []
    blocks = seen.json["blocks"]
    assert len(blocks[0]["text"]["text"]) == 150
    assert blocks[0]["text"]["text"].endswith("…")
    assert blocks[4]["text"]["text"].splitlines()[1] == "(181 earlier not shown)"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_slack_error_code_is_reported(
    slack: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A removed webhook (404 no_service) fails with Slack's code and a hint, no URL."""
    monkeypatch.setenv("SLACK_URL", slack.url + "/services/T0/B0/revoked")
    with pytest.raises(NotifyError) as caught:
        await notifier().send(ESCALATION)
    exc = caught.value
    assert exc.message == "slack ops-chat: Slack answered 404: no_service"
    assert exc.hint == "the webhook was removed or the app uninstalled; create a new webhook URL"
    assert exc.fields["status"] == 404
    assert exc.fields["error"] == "no_service"
    assert exc.fields["retryable"] is False
    assert "revoked" not in str(exc)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_invalid_payload_is_reported(slack: Receiver) -> None:
    """A 400 invalid_payload answer becomes a NotifyError naming it, without the URL."""
    slack.reply = (400, "invalid_payload", {})
    with pytest.raises(NotifyError) as caught:
        await notifier().send(ESCALATION)
    assert caught.value.message == "slack ops-chat: Slack answered 400: invalid_payload"
    assert_no_secret(caught.value)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_rate_limit_is_retryable(slack: Receiver) -> None:
    """429 with Retry-After is marked retryable and carries the delay in seconds."""
    slack.reply = (429, "rate_limited", {"Retry-After": "30"})
    with pytest.raises(NotifyError) as caught:
        await notifier().send(ESCALATION)
    assert caught.value.message == "slack ops-chat: Slack answered 429: rate_limited"
    assert caught.value.fields["retryable"] is True
    assert caught.value.fields["retry_after"] == 30.0


@pytest.mark.integration
@pytest.mark.asyncio
async def test_200_without_ok_is_a_failure(slack: Receiver) -> None:
    """Only `200 ok` is success; a proxy's 200 HTML page is not a delivered message."""
    slack.reply = (200, "<html>login</html>", {})
    with pytest.raises(NotifyError) as caught:
        await notifier().send(ESCALATION)
    assert caught.value.message == "slack ops-chat: Slack answered 200: <html>login</html>"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_timeout(slack: Receiver) -> None:
    """A webhook that does not answer fails at the timeout, retryable, without the URL."""
    slack.delay = 5
    with pytest.raises(NotifyError) as caught:
        await notifier(timeout="200ms").send(ESCALATION)
    assert caught.value.message == "slack ops-chat: Slack did not answer within 200ms"
    assert caught.value.fields["retryable"] is True
    assert_no_secret(caught.value)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_unreachable_never_shows_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection is reported without the webhook URL's secret path."""
    monkeypatch.setenv("SLACK_URL", "http://127.0.0.1:9" + SLACK_PATH)
    with pytest.raises(NotifyError) as caught:
        await notifier().send(ESCALATION)
    assert caught.value.message.startswith("slack ops-chat: cannot reach Slack: ")
    assert_no_secret(caught.value)


@pytest.mark.asyncio
async def test_unset_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset variable fails the delivery, naming the variable and how to set it."""
    monkeypatch.delenv("SLACK_URL", raising=False)
    with pytest.raises(NotifyError) as caught:
        await notifier().send(ESCALATION)
    assert caught.value.message == (
        "slack ops-chat: webhook_url: environment variable SLACK_URL is not set"
    )
    assert caught.value.hint == (
        "set SLACK_URL in the agent's environment (systemd: EnvironmentFile=)"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_url_from_a_file(slack: Receiver, tmp_path: Path) -> None:
    """`{file: path}` reads the webhook URL from a file (trailing newline stripped)."""
    secret = tmp_path / "slack.url"
    secret.write_text(slack.url + SLACK_PATH + "\n")
    await SlackNotifier("ops-chat", {"webhook_url": {"file": str(secret)}}).send(RESOLVE)
    assert [r.problems for r in slack.requests] == [[]]


def test_options_are_checked() -> None:
    """A plain-text webhook URL (not a secret reference) is refused with where and why."""
    with pytest.raises(ConfigError) as caught:
        SlackNotifier("ops-chat", {"webhook_url": "https://hooks.slack.com/services/x"})
    assert caught.value.message == (
        "notifiers.ops-chat.webhook_url: 'https://hooks.slack.com/services/x' is not of type "
        "'object'"
    )
    with pytest.raises(ConfigError) as caught:
        SlackNotifier("ops-chat", {"webhook_url": {"env": "X"}, "channel": "#ops"})
    assert caught.value.message == (
        "notifiers.ops-chat: Additional properties are not allowed ('channel' was unexpected)"
    )


def test_receiver_rejects_what_slack_rejects() -> None:
    """The test receiver is strict: a long header, 11 fields, no text are all refused."""
    body = {
        "text": "",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11},
            {"type": "banner"},
        ],
    }
    problems = slack_problems("application/json", json.dumps(body).encode())
    assert problems == [
        "text: must be a non-empty string (the notification fallback)",
        "blocks[0].text.text: 151 characters, more than 150",
        "blocks[1].fields: must hold 1 to 10 text objects",
        "blocks[2]: type must be one of ['actions', 'context', 'divider', 'header', 'section']",
    ]


def test_mrkdwn_cut_after_escaping() -> None:
    """Cutting happens on the raw text, so an entity like &amp; is never split."""
    assert escape("a<b") == "a&lt;b"
    assert mrkdwn("&&&&", 12) == "&amp;&amp;…"
