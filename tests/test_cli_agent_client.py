"""The CLI's one HTTP client: every command that asks the agent explains a failure
with the same words (nothing listening, no answer in time, 401, 503)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from click.testing import CliRunner

from medic.cli import agent_client, main

pytestmark = pytest.mark.integration

ERROR_401 = {"error": {"message": "this request needs a bearer token and sent none"}}
ERROR_503 = {
    "error": {
        "message": "the audit log cannot be written",
        "hint": "free space on the state_dir's filesystem",
    }
}
# A command that asks the agent, and the exit status it gives when it cannot.
ASKERS = {("status",): 2, ("silence", "list"): 1, ("approve", "abc"): 1}
# The name each prints before its message.
NAMES = {("status",): "status", ("silence", "list"): "silence list", ("approve", "abc"): "approve"}


@pytest.fixture(autouse=True)
def _away_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder: after `make run` the checkout holds `.medic/api.token`,
    which the CLI would find and send, changing the 401 message under test."""
    monkeypatch.chdir(tmp_path)


def ask(command: tuple[str, ...], url: str, *extra: str) -> tuple[int, str]:
    """`medic COMMAND --url URL`: its exit status and stderr without the command's name."""
    result = CliRunner().invoke(
        main, [*command, "--url", url, *extra], env={"MEDIC_API_TOKEN": "", "TOK": "s3cret"}
    )
    prefix = f"medic {NAMES[command]}: "
    assert result.stderr.startswith(prefix), result.stderr
    return result.exit_code, result.stderr.removeprefix(prefix)


@pytest_asyncio.fixture
async def answering() -> AsyncIterator[str]:
    """A server that answers every request with the status and body its path names:
    /401/... the API's 401 envelope, /503/... a 503 with a hint, /502/... plain text."""

    async def handle(request: web.Request) -> web.Response:
        kind = request.path.split("/")[1]
        if kind == "plain":
            return web.Response(status=503, text="upstream down")
        body = ERROR_401 if kind == "401" else ERROR_503
        return web.json_response(body, status=int(kind))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def free_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("command", list(ASKERS), ids=lambda c: c[0])
def test_nothing_listening_says_start_the_agent(command: tuple[str, ...]) -> None:
    """Connection refused: every command names the URL and `medic run`."""
    url = free_url()
    assert ask(command, url) == (
        ASKERS[command],
        f"no agent answering at {url} (start it with: medic run)\n",
    )


@pytest.mark.parametrize("command", list(ASKERS), ids=lambda c: c[0])
def test_no_answer_in_time_is_not_called_no_agent(
    command: tuple[str, ...], silent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection accepted but never answered is an agent that is busy or stuck,
    not a missing one: the message says how long it waited."""
    monkeypatch.setattr(agent_client, "TIMEOUT", 0.3)
    assert ask(command, silent) == (
        ASKERS[command],
        f"the agent at {silent} did not answer within 300ms (it accepted the connection:"
        " it is busy or stuck; see its log)\n",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("command", list(ASKERS), ids=lambda c: c[0])
async def test_a_401_says_where_the_token_came_from(
    command: tuple[str, ...], answering: str
) -> None:
    """401 without a token: where the command looked and how to give it one; with a
    token: where it came from. The same words from every command."""
    url = f"{answering}/401"
    code, text = await asyncio.to_thread(ask, command, url)
    assert (code, text) == (
        ASKERS[command],
        f"the agent at {url} answered 401: this request needs a bearer token and sent none"
        " (this command found no token: none ($MEDIC_API_TOKEN is unset, no readable"
        " .medic/api.token); on the agent's host pass --config with the agent's config"
        " file, which reads the token it names or the one in its state_dir; else set"
        " MEDIC_API_TOKEN or pass --token env:NAME)\n",
    )
    code, text = await asyncio.to_thread(ask, command, url, "--token", "env:TOK")
    assert text == (
        f"the agent at {url} answered 401: this request needs a bearer token and sent none"
        " (this command sent the token from --token env:TOK)\n"
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("command", [("silence", "list"), ("approve", "abc")], ids=str)
async def test_a_503_carries_the_agents_message_and_hint(
    command: tuple[str, ...], answering: str
) -> None:
    """503 with the API's envelope: its message and hint; without one: the status line."""
    url = f"{answering}/503"
    assert await asyncio.to_thread(ask, command, url) == (
        1,
        f"the agent at {url} answered 503: the audit log cannot be written"
        " (hint: free space on the state_dir's filesystem)\n",
    )
    url = f"{answering}/plain"
    assert await asyncio.to_thread(ask, command, url) == (
        1,
        f"the agent at {url} answered 503 Service Unavailable\n",
    )


@pytest.mark.asyncio
async def test_status_reads_health_503_as_unhealthy_but_not_a_plain_503(answering: str) -> None:
    """`medic status` takes /health's 503 with a JSON body as an answer (alive,
    unhealthy); a 503 without one is a failure named by its status line, exit 2."""
    url = f"{answering}/plain"
    assert await asyncio.to_thread(ask, ("status",), url) == (
        2,
        f"the agent at {url} answered 503 Service Unavailable\n",
    )
