"""The fleet review page in a real browser (Debian's Chromium through Playwright), served
by a real `medic fleet review` process over a central PostgreSQL holding two hosts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from kit.central import create_db, drop_db, dsn_of, healed, opened, ship
from kit.ports import free_port

pytestmark = [pytest.mark.integration]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic"]


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"medic fleet review exited: {proc.stderr.read() if proc.stderr else ''!r}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:  # noqa: S310 -- our loopback URL
                if json.loads(resp.read())["view"] == "central":
                    return
        except (OSError, urllib.error.URLError, ValueError):
            time.sleep(0.1)
    pytest.fail("medic fleet review did not answer /health within 30 s")


@pytest.fixture
def fleet_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`medic fleet review` on a free loopback port over node-a's and node-b's incidents."""
    name = asyncio.run(create_db())
    dsn = dsn_of(name)
    monkeypatch.setenv("CENTRAL_DSN", dsn)
    base = time.time() - 600

    async def fill() -> None:
        await ship(tmp_path, "node-a", healed("inc-a1", "web-memory", "web1", base))
        await ship(tmp_path, "node-b", opened("inc-b1", "disk-full", "db1", base + 30))

    asyncio.run(fill())
    port = free_port()
    env = {**os.environ, "MEDIC_CENTRAL_AUDIT_DSN": dsn}
    argv = [sys.executable, "-m", "medic", "fleet", "review", "--listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_up(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        asyncio.run(drop_db(name))


def test_the_fleet_page_lists_incidents_of_two_hosts(fleet_page: str) -> None:
    """The page lists both hosts' incidents with their host, filters by host, opens an
    incident of a host, and shows no approvals or silences to change."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/provision-chromium.sh as root")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        expect.set_options(timeout=15_000)
        page.goto(fleet_page + "/")
        rows = page.get_by_test_id("incident-row")
        expect(rows).to_have_count(2)
        expect(rows.get_by_test_id("host")).to_have_text(["node-b", "node-a"])
        expect(page.get_by_test_id("central-banner")).to_be_visible()
        expect(page.locator("#silences-card")).to_be_hidden()
        expect(page.locator("#approvals-card")).to_be_hidden()
        expect(page.locator("#host")).to_have_text("fleet (2 hosts)")
        page.get_by_test_id("filter-host").fill("node-a")
        page.get_by_test_id("filter-host").press("Enter")
        expect(rows).to_have_count(1)
        expect(page).to_have_url(f"{fleet_page}/?host=node-a")
        rows.first.get_by_role("link").click()
        expect(page.locator('[data-fact="Host"]')).to_have_text("node-a")
        expect(page.get_by_test_id("timeline-item")).to_have_count(5)
        expect(page.get_by_test_id("incident-approval")).to_be_hidden()
        browser.close()
        assert errors == [], errors
