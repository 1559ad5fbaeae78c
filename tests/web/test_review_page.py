"""The review page in a real headless Chromium, against a real ``medic run`` agent.

The agent (see conftest.py) has 260 past ``web-memory`` incidents in its audit log and
four live ones: healed, failed then suppressed, waiting for approval, and dry-run. The
tests read the page as an on-call person would, at desktop and phone width where it
matters, and keep a screenshot of each view under test-artifacts/web/.
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
from playwright.sync_api import ConsoleMessage, Page, Request, Route, expect

from kit import web_history
from kit.agent_harness import AgentProcess
from medic import __version__

pytestmark = pytest.mark.integration

ROWS = '#incidents tbody tr[data-testid="incident-row"]'
LIVE = ("spool-missing", "lock-missing", "gate-missing", "dry-missing")


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


def shoot(page: Page, artifacts: Path, name: str) -> Path:
    """A full-page screenshot and one of the first screen, kept as test artifacts; their
    paths are printed."""
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = artifacts / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    first = artifacts / f"{name}-{width}-first-screen.png"
    page.screenshot(path=str(first))
    print(f"screenshots: {path} {first}")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def no_horizontal_overflow(page: Page) -> None:
    """Nothing on the page is wider than the window (no sideways scrolling)."""
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]}px wide in a {widths[1]}px window"


def open_list(page: Page, agent: AgentProcess, query: str = "") -> None:
    page.goto(base_url(agent) + "/" + query)
    expect(page.locator(ROWS).first).to_be_visible()


def set_token(page: Page, token: str) -> None:
    if not page.locator("#token").is_visible():
        page.locator("#token-box summary").click()
    page.locator("#token").fill(token)
    page.locator("#token-save").click()


def test_chromium_is_provisioned(chromium: Path) -> None:
    """Debian's Chromium is where the browser tests launch it from."""
    assert chromium.exists(), (
        f"{chromium} is missing: run scripts/provision-chromium.sh as root "
        "(installs Debian's chromium for the web page tests)"
    )


def test_list_shows_agent_overview_and_incidents(
    page: Page, agent: AgentProcess, viewport: dict[str, int], artifacts: Path
) -> None:
    """The page names the agent, sums each policy up, lists incidents newest first with
    badges (dry-run, awaiting approval, suppressed), and fits the window."""
    console_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(f"{message.text} at {message.location['url']}")

    page.on("console", on_console)
    health = get_json(agent, "/health")
    open_list(page, agent)
    expect(page.locator("#host")).to_have_text(health["host"])
    expect(page.locator("#version")).to_have_text(__version__)
    expect(page.locator("#policy-count")).to_have_text("4")
    expect(page.locator("#dry-run-banner")).to_be_hidden()
    expect(page.locator("#incident-total")).to_have_text(f"{web_history.COUNT + 4} incidents")
    web = page.locator('#overview tr[data-policy="web-memory"]')
    expect(web.locator('[data-label="Opened"]')).to_have_text(str(len(_in_last(86400))))
    expect(web.locator('[data-label="Heal rate"]')).to_have_text("100%")
    expect(web.locator('[data-label="Time to heal"]')).to_have_text("1m 4s")
    expect(
        page.locator('#overview tr[data-policy="dry-missing"] [data-testid="dry-run"]')
    ).to_be_visible()
    # Newest first: the four live incidents, then the most recent past one.
    first = page.locator(ROWS).nth(4)
    expect(first).to_have_attribute("data-incident", f"hist-{web_history.COUNT - 1:04d}")
    dry = page.locator(ROWS, has=page.get_by_role("link", name="dry-missing", exact=True))
    expect(dry.get_by_test_id("dry-run")).to_be_visible()
    gate = page.locator(ROWS, has=page.get_by_role("link", name="gate-missing", exact=True))
    expect(gate.get_by_test_id("awaiting")).to_be_visible()
    lock = page.locator(ROWS, has=page.get_by_role("link", name="lock-missing", exact=True))
    expect(lock.get_by_test_id("suppressed")).to_be_visible()
    expect(page.get_by_test_id("approval")).to_have_count(1)
    expect(page.locator("#error")).to_be_hidden()
    no_horizontal_overflow(page)
    shoot(page, artifacts, "list")
    assert console_errors == []


def _in_last(seconds: float) -> list[int]:
    """Which past incidents opened in the last ``seconds`` (kit/web_history.py spreads them over
    the 48 hours before the agent started, the newest 10 minutes before)."""
    step = 48 * 3600 / web_history.COUNT
    return [n for n in range(web_history.COUNT) if 600 + (web_history.COUNT - n) * step < seconds]


def test_typing_survives_a_refresh_that_was_in_flight(page: Page, agent: AgentProcess) -> None:
    """A refresh still running when a filter changed must not put the old URL's values
    back into the boxes: text typed meanwhile is kept and Apply sends it."""
    open_list(page, agent)
    held: list[Route] = []
    holding = [True]

    def hold(route: Route) -> None:
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/v1/review/incidents*", hold)
    page.evaluate("window.dispatchEvent(new PopStateEvent('popstate'))")  # a refresh, held
    deadline = time.monotonic() + 15
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert held, "the refresh never asked for incidents"
    page.locator("#filter-status").select_option("healed")
    page.locator("#filter-policy").fill("spool-missing")
    holding[0] = False
    for route in held:
        route.continue_()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#filter-policy")).to_have_value("spool-missing")
    page.locator("#filters-apply").click()
    expect(page).to_have_url(
        re.compile(r"status=healed.*policy=spool-missing|policy=spool-missing.*status=healed")
    )


def test_filters_go_in_the_url_and_survive_reload(page: Page, agent: AgentProcess) -> None:
    """Choosing a status and a policy changes the URL; reloading it keeps both filters and
    the same rows."""
    open_list(page, agent)
    page.locator("#filter-status").select_option("healed")
    expect(page).to_have_url(re.compile(r"\?status=healed$"))
    page.locator("#filter-policy").fill("spool-missing")
    page.locator("#filters-apply").click()
    expect(page).to_have_url(re.compile(r"policy=spool-missing"), timeout=15_000)
    expect(page.locator(ROWS)).to_have_count(1)
    page.reload()
    expect(page.locator("#filter-status")).to_have_value("healed")
    expect(page.locator("#filter-policy")).to_have_value("spool-missing")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(ROWS).first).to_have_attribute(
        "data-incident", incident_of(agent, "spool-missing")
    )
    # A shared link opens the same view in a fresh tab; the time filter works the same way.
    page.goto(base_url(agent) + "/?policy=web-memory&since=1h")
    expect(page.locator("#filter-since")).to_have_value("1h")
    expect(page.locator(ROWS)).to_have_count(len(_in_last(3500)))  # 344 s from the edge
    page.go_back()
    expect(page.locator("#filter-policy")).to_have_value("spool-missing")


def test_paging_goes_past_200(page: Page, agent: AgentProcess) -> None:
    """Older/Newer page through all 260 past incidents, 50 at a time, each once, in order."""
    open_list(page, agent, "?policy=web-memory")
    expect(page.locator("#incident-total")).to_have_text(f"{web_history.COUNT} incidents")
    seen: list[str] = []
    for number in range(6):
        expect(page.locator(ROWS).first).to_be_visible()
        ids = page.locator(ROWS).evaluate_all("rs => rs.map(r => r.dataset.incident)")
        seen.extend(ids)
        if number < 5:
            page.get_by_test_id("page-next").click()
            expect(page).to_have_url(re.compile(r"after="))
            expect(page.locator(ROWS).first).not_to_have_attribute("data-incident", ids[0])
    assert len(seen) == web_history.COUNT
    assert seen == [f"hist-{n:04d}" for n in reversed(range(web_history.COUNT))]
    expect(page.get_by_test_id("page-next")).to_be_hidden()
    # The last page reloads as it was, and Newer goes back one page.
    page.reload()
    expect(page.locator(ROWS)).to_have_count(10)
    page.get_by_test_id("page-prev").click()
    expect(page.locator(ROWS)).to_have_count(50)
    expect(page.locator(ROWS).first).to_have_attribute("data-incident", seen[200])


def test_incident_page_has_header_timeline_and_chart(
    page: Page, agent: AgentProcess, viewport: dict[str, int], artifacts: Path
) -> None:
    """An escalated past incident: the header (status, duration, attempts, outcomes, who
    was notified), the timeline with fields only where they change, and the SVG chart
    of memory_percent with markers where it fired, acted and verified."""
    incident = "hist-0252"  # a multiple of 7: escalated, paged, healed on the 2nd try
    open_list(page, agent, "?policy=web-memory")
    page.locator(f'{ROWS}[data-incident="{incident}"] a').click()
    expect(page).to_have_url(re.compile(f"incident={incident}"))
    expect(page.locator("#incident-title")).to_have_text("web-memory on web-2")
    facts = page.get_by_test_id("incident-facts")
    expect(facts.locator('[data-fact="Status"]')).to_have_text("healed, escalated")
    expect(facts.locator('[data-fact="Duration"]')).to_have_text("2m 8s")
    expect(facts.locator('[data-fact="Attempts"]')).to_have_text("2")
    expect(facts.locator('[data-fact="Outcomes"]')).to_have_text("succeeded \u00d72")
    expect(facts.locator('[data-fact="Notified"] li')).to_have_count(2)
    expect(facts.locator('[data-fact="Notified"]')).to_contain_text(
        "sent oncall (escalate, not_healed)"
    )
    items = page.get_by_test_id("timeline-item")
    expect(items).to_have_count(12)
    # The probe fields appear once, then only the one that changed.
    first = items.first.get_by_test_id("changed")
    expect(first).to_contain_text("memory_percent=91.5")
    expect(first).to_contain_text("rss_mb=2048")
    expect(items.nth(1).get_by_test_id("changed")).to_have_text("memory_percent=93")
    escalated = page.locator('[data-testid="timeline-item"][data-kind="incident.escalated"]')
    expect(escalated.get_by_test_id("changed")).to_have_count(0)  # 94 again: not repeated
    svg = page.get_by_test_id("chart-svg")
    expect(svg).to_be_visible()
    expect(page.locator("#chart-title")).to_have_text("Measured: memory_percent")
    expect(svg.locator("circle")).to_have_count(6)
    marks = svg.locator(".marker").evaluate_all("ms => ms.map(m => m.dataset.mark)")
    assert marks == ["fired", "acted", "verified", "acted", "verified"]
    no_horizontal_overflow(page)
    shoot(page, artifacts, "incident")
    # Back to the list keeps the filter that led here.
    page.get_by_test_id("back").click()
    expect(page).to_have_url(re.compile(r"\?policy=web-memory$"))


def test_dry_run_is_shown_plainly(page: Page, agent: AgentProcess, dry_agent: AgentProcess) -> None:
    """A dry-run incident carries the badge on the list, in its header and on its actions;
    an agent in dry-run shows the banner."""
    incident = incident_of(agent, "dry-missing")
    page.goto(f"{base_url(agent)}/?incident={incident}")
    expect(page.locator("#incident-badges").get_by_test_id("dry-run")).to_be_visible()
    would = page.locator('[data-testid="timeline-item"][data-kind="action.would_run"]')
    expect(would.first.get_by_test_id("dry-run")).to_be_visible()
    expect(page.get_by_test_id("incident-facts").locator('[data-fact="Attempts"]')).to_contain_text(
        "dry-run"
    )
    expect(page.locator("#dry-run-banner")).to_be_hidden()
    page.goto(base_url(dry_agent) + "/")
    expect(page.locator("#dry-run-banner")).to_be_visible()
    expect(page.locator("#dry-run-banner")).to_contain_text("takes no action")


def test_silence_created_and_expired_from_the_page(
    page: Page, agent: AgentProcess, token: str
) -> None:
    """With the token, the form creates a silence the agent lists; Expire now ends it."""
    open_list(page, agent)
    set_token(page, token)
    page.locator("#silence-new summary").click()
    page.locator("#silence-policy").fill("lock-*")
    page.locator("#silence-author").fill("alice")
    page.locator("#silence-reason").fill("disk swap tonight")
    page.locator("#silence-create").click()
    expect(page.get_by_test_id("notice")).to_contain_text("created")
    silence = page.get_by_test_id("silence").filter(has_text="lock-*")
    expect(silence).to_have_count(1)
    expect(silence).to_contain_text("disk swap tonight")
    listed = [s for s in get_json(agent, "/api/v1/silences")["silences"] if s["kind"] == "silence"]
    assert [(s["matchers"], s["author"]) for s in listed] == [({"policy": "lock-*"}, "alice")]
    silence.get_by_test_id("expire").click()
    expect(page.get_by_test_id("notice")).to_contain_text("ended")
    expect(page.get_by_test_id("silence").filter(has_text="lock-*")).to_have_count(0)
    agent.wait_for(  # the audit writer commits within its flush interval
        lambda: (
            [e["details"]["by"] for e in agent.events("silence.expired")]
            == ["api client 127.0.0.1"]
        ),
        what="silence.expired by the page's API client",
    )


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


def test_token_box_answers_a_401_and_sends_the_bearer_header(
    page: Page, agent: AgentProcess, token: str
) -> None:
    """After a 401 the token box takes the token and every request then carries it.

    The agent only asks for a token on reads when it listens beyond loopback, and these
    tests bind nothing but 127.0.0.1. So a Playwright route stands in for the one thing a
    non-loopback agent would do differently, while the real agent still judges the
    token: for each data request the page makes, the route sends the same Authorization
    header on a POST the agent refuses before acting (a body that is not JSON). If the
    agent answers 401, the page gets that very 401; if it accepts the token (400 for
    the body), the page's request goes through to the agent.
    """
    verdicts: list[int] = []

    def gate(route: Route, request: Request) -> None:
        status, body = post_status(agent, "/api/v1/silences", request.headers.get("authorization"))
        verdicts.append(status)
        if status == 401:
            route.fulfill(
                status=401, json=body, headers={"WWW-Authenticate": 'Bearer realm="medic"'}
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
    page.clock.pause_at(time.time() + 1)  # only the token box's refreshes from here on
    expect(error).to_have_text(
        "This agent needs its API token: enter it above. this request needs a bearer token "
        "and sent none (send the header 'Authorization: Bearer <token>' with the agent's API"
        " token; on the agent's host it is in $MEDIC_API_TOKEN)"
    )
    expect(page.locator("#token")).to_be_focused()
    page.locator("#token").fill("not-the-token")
    page.locator("#token-save").click()
    expect(error).to_contain_text("the bearer token is not the agent's API token")
    sent.clear()
    page.locator("#token").fill(token)
    page.locator("#token-save").click()
    expect(page.locator(ROWS).first).to_be_visible()
    expect(error).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('medic.token')") == token
    assert sent and set(sent) == {f"Bearer {token}"}
    assert set(verdicts) == {400, 401}


def test_approving_from_the_page_lets_the_agent_act(
    page: Page, agent: AgentProcess, token: str, artifacts: Path
) -> None:
    """The pending approval's Approve button, with the token, grants it: the agent acts,
    the incident heals, and its page names who approved. (Last: it changes the agent.)"""
    incident = incident_of(agent, "gate-missing")
    page.set_viewport_size({"width": 390, "height": 844})
    # Notifications link to "/#incident=<id>": that opens the incident page too.
    page.goto(f"{base_url(agent)}/#incident={incident}")
    expect(page).to_have_url(re.compile(rf"/\?incident={incident}$"))
    expect(page.get_by_test_id("incident-approval")).to_be_visible()
    no_horizontal_overflow(page)
    shoot(page, artifacts, "approval")
    set_token(page, token)
    page.locator("#approval-by").fill("bob")
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Approved")
    agent.wait_for(
        lambda: any(e["incident"] == incident for e in agent.events("verify.healed")),
        what="the approved incident to heal",
    )
    page.reload()
    facts = page.get_by_test_id("incident-facts")
    expect(facts.locator('[data-fact="Status"]')).to_have_text("healed")
    expect(facts.locator('[data-fact="Approval"]')).to_contain_text("granted by bob")
    expect(page.get_by_test_id("incident-approval")).to_be_hidden()
