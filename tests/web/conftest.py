"""Fixtures for the browser tests of the review web page: Debian's Chromium driven by
Playwright (never a downloaded browser) and one real ``medic run`` agent whose audit log
holds real incidents.

The agent is started once per module: starting it and waiting for its incidents takes
a few seconds; the tests read what it wrote, and the approval test (last) answers one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from kit import web_history
from kit.agent_harness import AgentProcess
from kit.web_history import write_history

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
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


def _file_policy(name: str, path: Path, step: list[str], **extra: object) -> dict[str, object]:
    """A policy that fires at once: a file probe on a file that does not exist yet."""
    return {
        "name": name,
        "description": f"Create {path.name} when it is missing.",
        "probe": {"type": "file", "path": str(path), "every": "1h"},
        "when": "not exists",
        "remediate": [{"command": {"argv": step, "timeout": "10s"}}],
        "verify": {"after": "500ms"},
        "limits": {"max": 1, "per": "1h", "cooldown": "0s"},
        **extra,
    }


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A real agent on loopback with an API token configured, over an audit log that
    already holds 260 past ``web-memory`` incidents (see kit/web_history.py), and four live ones:
    ``spool-missing`` healed by a real command, ``lock-missing`` whose step fails (then
    suppressed by its limit), ``gate-missing`` waiting for approval, and
    ``dry-missing`` in dry-run."""
    root = tmp_path_factory.mktemp("web-agent")
    agent = AgentProcess(root)
    config = yaml.safe_load(agent.config.read_text())
    config["api"]["token"] = {"env": TOKEN_ENV}
    agent.config.write_text(yaml.safe_dump(config))
    write_history(agent.db, socket.gethostname())
    files = root / "files"
    files.mkdir()
    spool, lock = files / "spool.ready", files / "lock.ready"
    gate, dry = files / "gate.ready", files / "dry.ready"
    agent.write_policy(
        "files.yaml",
        [
            _file_policy("spool-missing", spool, ["touch", str(spool)]),
            _file_policy("lock-missing", lock, ["false"]),
            _file_policy(
                "gate-missing",
                gate,
                ["touch", str(gate)],
                approval={"required": True, "timeout": "1h"},
            ),
            _file_policy("dry-missing", dry, ["touch", str(dry)], dry_run=True),
        ],
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv(TOKEN_ENV, TOKEN)
        agent.start()
    try:
        agent.wait_for(
            lambda: (
                len(agent.events("verify.healed")) == web_history.COUNT + 1
                and len(agent.events("action.failed")) == 1
                and len(agent.events("approval.requested")) == 1
                and len(agent.events("action.would_run")) >= 1
            ),
            what="the live incidents: healed, failed, awaiting approval, dry-run",
            timeout=30,
        )
        yield agent
    finally:
        agent.stop()


@pytest.fixture(scope="module")
def dry_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """A real agent started in dry-run (agent config ``dry_run: true``), no policies."""
    agent = AgentProcess(tmp_path_factory.mktemp("web-dry-agent"), dry_run=True)
    agent.start()
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the browser tests keep their screenshots (ignored by git)."""
    path = ARTIFACTS
    path.mkdir(parents=True, exist_ok=True)
    return path


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


DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(params=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    """Each test that asks runs at desktop (1280x800) and phone (390x844) size."""
    return DESKTOP if request.param == "desktop" else PHONE


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab (own sessionStorage) that fails the test on any script error; as wide
    as the test's ``viewport`` fixture says, desktop size otherwise."""
    size = request.getfixturevalue("viewport") if "viewport" in request.fixturenames else DESKTOP
    context = browser.new_context(viewport=size)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"script errors on the page: {errors}"
