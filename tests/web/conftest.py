"""Fixtures for the browser tests of the audit web page: Debian's Chromium driven by
Playwright (never a downloaded browser) and one real ``medic run`` agent whose audit log
holds real incidents.

The agent is started once per module: starting it and waiting for its incidents takes
a few seconds, and every test here only reads what it wrote.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from agent_harness import AgentProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TOKEN_ENV = "MEDIC_API_TOKEN"
TOKEN = "web-test-token-0123456789"
# Generous for a machine shared by several test runs; the page answers in milliseconds.
UI_TIMEOUT_MS = 15_000


def _file_policy(name: str, path: Path, step: list[str]) -> dict[str, object]:
    """A policy that fires at once: a file probe on a file that does not exist yet."""
    return {
        "name": name,
        "description": f"Create {path.name} when it is missing.",
        "probe": {"type": "file", "path": str(path), "every": "1h"},
        "when": "not exists",
        "remediate": [{"command": {"argv": step, "timeout": "10s"}}],
        "verify": {"after": "500ms"},
        "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
    }


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A real agent on loopback with an API token configured, and three incidents:
    ``spool-missing`` and ``flag-missing`` healed by a real command, ``lock-missing``
    left open because its step fails."""
    root = tmp_path_factory.mktemp("web-agent")
    agent = AgentProcess(root)
    config = yaml.safe_load(agent.config.read_text())
    config["api"]["token_env"] = TOKEN_ENV
    agent.config.write_text(yaml.safe_dump(config))
    files = root / "files"
    files.mkdir()
    spool, flag, lock = files / "spool.ready", files / "flag.ready", files / "lock.ready"
    agent.write_policy(
        "files.yaml",
        [
            _file_policy("spool-missing", spool, ["touch", str(spool)]),
            _file_policy("flag-missing", flag, ["touch", str(flag)]),
            _file_policy("lock-missing", lock, ["false"]),
        ],
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv(TOKEN_ENV, TOKEN)
        agent.start()
    try:
        agent.wait_for(
            lambda: (
                len(agent.events("verify.healed")) == 2 and len(agent.events("action.failed")) == 1
            ),
            what="two healed incidents and one failed action",
            timeout=30,
        )
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def token() -> str:
    """The API token the agent fixture was started with."""
    return TOKEN


@pytest.fixture
def chromium() -> Path:
    """Where the browser tests launch Chromium from."""
    return CHROMIUM


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless. Missing, the tests fail and name the script to run."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/provision-chromium.sh as root "
            "(installs Debian's chromium for the web page tests)",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (own sessionStorage) that fails the test on any script error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"script errors on the page: {errors}"
