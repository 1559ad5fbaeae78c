"""The audit web page in a real headless Chromium, against a real ``medic run`` agent.

The agent (see conftest.py) wrote three real incidents into its audit log: two healed
by a real ``touch`` and one left open after its ``false`` step failed (its escalation
named no notifier, so the incident is not marked escalated).
Every test reads the page as an on-call person would: what it shows, what a click or a
filter changes.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from agent_harness import AgentProcess
from playwright.sync_api import ConsoleMessage, Locator, Page, Request, Route, expect

from medic import __version__

pytestmark = pytest.mark.integration

HEALED_STORY = [
    "incident.detected",
    "incident.fired",
    "action.started",
    "action.succeeded",
    "verify.healed",
]
INCIDENT_ROWS = '#incidents tbody tr[data-testid="incident-row"]'
EVENT_ROWS = '#events tbody tr[data-testid="event-row"]'


def base_url(agent: AgentProcess) -> str:
    return f"http://127.0.0.1:{agent.port}"


def get_json(agent: AgentProcess, path: str) -> Any:
    with urllib.request.urlopen(base_url(agent) + path, timeout=10) as response:  # noqa: S310 -- a fixed http://127.0.0.1 URL
        return json.load(response)


def incident_of(agent: AgentProcess, policy: str) -> str:
    """The id of the one incident ``policy`` opened, from the agent's own audit DB."""
    ids = {e["incident"] for e in agent.events("incident.detected") if e["policy"] == policy}
    assert len(ids) == 1, f"{policy}: {ids}"
    return str(ids.pop())


def row_of(page: Page, policy: str) -> Locator:
    return page.locator(INCIDENT_ROWS).filter(has=page.get_by_role("cell", name=policy, exact=True))


def open_page(page: Page, agent: AgentProcess) -> None:
    """Load the page and wait until its first refresh has filled the incidents table."""
    page.goto(base_url(agent) + "/")
    expect(page.locator(INCIDENT_ROWS)).to_have_count(3)


def test_chromium_is_provisioned(chromium: Path) -> None:
    """Debian's Chromium is where the browser tests launch it from."""
    assert chromium.exists(), (
        f"{chromium} is missing: run scripts/provision-chromium.sh as root "
        "(installs Debian's chromium for the web page tests)"
    )


def test_page_shows_the_agent_and_its_incidents(page: Page, agent: AgentProcess) -> None:
    """The page names host and version and lists each incident with its policy and status."""
    console_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"{message.text} at {message.location['url']}")

    page.on("console", on_console)
    health = get_json(agent, "/health")
    open_page(page, agent)
    expect(page.locator("#host")).to_have_text(health["host"])
    expect(page.locator("#version")).to_have_text(__version__)
    expect(page.locator("#policy-count")).to_have_text("3")
    expect(page).to_have_title(f"Medic audit log \u2013 {health['host']}")
    expect(page.locator("#error")).to_be_hidden()
    for policy, status in [
        ("spool-missing", "healed"),
        ("flag-missing", "healed"),
        ("lock-missing", "open"),  # escalated, but it names no notifier: nobody told
    ]:
        row = row_of(page, policy)
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(1)).to_have_text(status)
        expect(row.locator("td").nth(4)).to_have_text(incident_of(agent, policy))
    # Newest first, as the API lists them.
    listed = page.locator(f"{INCIDENT_ROWS} td:nth-child(3)").all_text_contents()
    assert listed == [i["policy"] for i in get_json(agent, "/api/v1/incidents")["incidents"]]
    # No CSP violation, no failed request: the page runs on its own files only.
    assert console_errors == []


def test_clicking_an_incident_shows_its_events_in_time_order(
    page: Page, agent: AgentProcess
) -> None:
    """A click on an incident row shows that incident's events, oldest first, with details."""
    incident = incident_of(agent, "spool-missing")
    open_page(page, agent)
    row_of(page, "spool-missing").locator("td").first.click()
    expect(page.locator("#events-title")).to_have_text(f"Incident {incident} (oldest first)")
    expect(page).to_have_url(re.compile(f"#incident={incident}$"))
    expect(row_of(page, "spool-missing")).to_have_class("selected")
    rows = page.locator(EVENT_ROWS)
    expect(rows).to_have_count(len(HEALED_STORY))
    assert [rows.nth(i).get_attribute("data-kind") for i in range(rows.count())] == HEALED_STORY
    times = page.locator(f"{EVENT_ROWS} time").evaluate_all("ts => ts.map(t => t.dateTime)")
    assert len(times) == len(HEALED_STORY)
    assert times == sorted(times)
    assert set(page.locator(f"{EVENT_ROWS} td:nth-child(3)").all_text_contents()) == {
        "spool-missing"
    }
    started = page.locator(f'{EVENT_ROWS}[data-kind="action.started"]')
    expect(started.locator("td").nth(7)).to_contain_text('type="command"')
    expect(started.locator("td").nth(7)).to_contain_text("attempt=1")
    detected = page.locator(f'{EVENT_ROWS}[data-kind="incident.detected"]')
    expect(detected.locator("td").nth(6)).to_contain_text("exists=false")
    expect(detected.locator("td").nth(7)).to_have_text('condition="not exists"')
    succeeded = page.locator(f'{EVENT_ROWS}[data-kind="action.succeeded"]')
    expect(succeeded.locator("td").nth(4)).to_have_text(started.locator("td").nth(4).inner_text())
    # Back to the recent events of every policy.
    page.locator("#show-recent").click()
    expect(page.locator("#events-title")).to_have_text("Recent events (newest first)")
    expect(page.locator(f'{EVENT_ROWS}[data-kind="agent.started"]')).to_have_count(1)


def test_kind_and_policy_filters_narrow_the_lists(page: Page, agent: AgentProcess) -> None:
    """The kind filter keeps matching events; the policy filter keeps one policy's rows."""
    actions = [e for e in agent.events() if e["kind"].startswith("action.")]
    open_page(page, agent)
    page.locator("#filter-kind").fill("action.")
    expect(page.locator(f'{EVENT_ROWS}:not([data-kind^="action."])')).to_have_count(0)
    expect(page.locator(f'{EVENT_ROWS}[data-kind^="action."]')).to_have_count(len(actions))
    # Inside one incident's story the same filter applies.
    row_of(page, "lock-missing").locator("td").first.click()
    expect(page.locator("#events-title")).to_contain_text(incident_of(agent, "lock-missing"))
    expect(page.locator(EVENT_ROWS)).to_have_count(3)
    kinds = page.locator(EVENT_ROWS).evaluate_all("rs => rs.map(r => r.dataset.kind)")
    assert kinds == ["action.started", "action.failed", "action.suppressed"]
    page.locator("#show-recent").click()
    page.locator("#filter-kind").fill("")
    page.locator("#filter-policy").fill("flag-missing")
    expect(page.locator(INCIDENT_ROWS)).to_have_count(1)
    expect(row_of(page, "flag-missing")).to_have_count(1)
    flag_events = [e for e in agent.events() if e["policy"] == "flag-missing"]
    assert len(flag_events) > len(HEALED_STORY)  # policy.loaded and the story at least
    expect(page.locator(f"{EVENT_ROWS} td:nth-child(3)")).to_have_text(
        ["flag-missing"] * len(flag_events)
    )
    page.locator("#filter-policy").fill("")
    page.locator("#filter-open").check()
    expect(page.locator(INCIDENT_ROWS)).to_have_count(1)
    expect(row_of(page, "lock-missing")).to_have_count(1)


def post_status(agent: AgentProcess, path: str, authorization: str | None) -> tuple[int, Any]:
    """Status and JSON body of a POST the agent must refuse before acting on it."""
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = urllib.request.Request(  # noqa: S310 -- a fixed http://127.0.0.1 URL
        base_url(agent) + path, data=b"not json", headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 -- as above
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_reads_on_loopback_need_no_token(page: Page, agent: AgentProcess) -> None:
    """With a token configured, the page on loopback loads every table without sending one."""
    assert get_json(agent, "/api/v1/")["auth"] == {"loopback": True, "token_configured": True}
    # The token is live: a change without it is refused by the agent itself.
    assert post_status(agent, "/api/v1/silences", None)[0] == 401
    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")))
    open_page(page, agent)
    expect(page.locator(f'{EVENT_ROWS}[data-kind="agent.started"]')).to_have_count(1)
    expect(page.locator("#error")).to_be_hidden()
    assert sent and set(sent) == {None}


def test_token_box_answers_a_401_and_sends_the_bearer_header(
    page: Page, agent: AgentProcess, token: str
) -> None:
    """After a 401 the token box takes the token and every request then carries it.

    The agent only asks for a token on reads when it listens beyond loopback, and these
    tests bind nothing but 127.0.0.1 (loopback is decided by the address, so no config
    makes loopback reads need it). So a Playwright route stands in for the one thing a
    non-loopback agent would do differently, while the real agent still judges the
    token: for each data request the page makes, the route sends the same Authorization
    header on a POST the agent refuses before acting (a body that is not JSON). If the
    agent answers 401, the page gets that very 401 (status, envelope, challenge); if it
    accepts the token (400 for the body), the page's request goes through to the agent.
    """
    verdicts: list[int] = []

    def gate(route: Route, request: Request) -> None:
        status, body = post_status(agent, "/api/v1/silences", request.headers.get("authorization"))
        verdicts.append(status)
        if status == 401:
            route.fulfill(
                status=401,
                json=body,
                headers={"WWW-Authenticate": 'Bearer realm="medic"'},
            )
        else:
            route.continue_()

    page.route(re.compile(r"/(health|api/v1/.*)(\?.*)?$"), gate)
    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")))
    page.clock.install()
    page.goto(base_url(agent) + "/")
    error = page.locator("#error")
    expect(error).to_be_visible()
    # Stop the page's 10 s refresh: only the token box's own refreshes send requests now.
    page.clock.pause_at(time.time() + 1)
    expect(error).to_have_text(
        "This agent needs its API token: enter it above. this request needs a bearer token "
        "and sent none (send the header 'Authorization: Bearer <token>' with the agent's API"
        " token; on the agent's host it is in $MEDIC_API_TOKEN)"
    )
    expect(page.locator("#token")).to_be_focused()
    expect(page.locator(INCIDENT_ROWS)).to_have_count(0)

    page.locator("#token").fill("not-the-token")
    page.locator("#token-save").click()
    expect(error).to_contain_text("the bearer token is not the agent's API token")
    expect(page.locator(INCIDENT_ROWS)).to_have_count(0)

    sent.clear()
    page.locator("#token").fill(token)
    page.locator("#token-save").click()
    expect(page.locator(INCIDENT_ROWS)).to_have_count(3)
    expect(error).to_be_hidden()
    expect(page.locator("#host")).to_have_text(get_json(agent, "/health")["host"])
    assert page.evaluate("sessionStorage.getItem('medic.token')") == token
    assert sent and set(sent) == {f"Bearer {token}"}
    assert 401 in verdicts and 400 in verdicts and set(verdicts) == {400, 401}


def test_screenshot_of_an_incident_is_a_png(
    page: Page, agent: AgentProcess, tmp_path: Path
) -> None:
    """The page with an incident open renders to a non-empty PNG."""
    incident = incident_of(agent, "lock-missing")
    page.goto(f"{base_url(agent)}/#incident={incident}")
    expect(page.locator("#events-title")).to_have_text(f"Incident {incident} (oldest first)")
    expect(page.locator(EVENT_ROWS)).to_have_count(7)
    shot = tmp_path / "audit-page.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
