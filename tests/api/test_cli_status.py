"""``medic status``: the running agent's state, asked over its real HTTP API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from structlog.testing import capture_logs

from kit.ports import free_port
from medic.api.server import start_api
from medic.cli.agent_client import url_from_config
from medic.cli.status import ago, command, key_values, render_table, rows
from medic.config import AgentConfig, ApiConfig

TABLE = """\
POLICY               TARGET  STATE       SINCE   INCIDENT  ATTEMPTS  VALUES
web-memory           web     firing      3m ago  inc-3     1         memory_percent=93.25 rss=1024
web-memory           worker  ok          2h ago  -         0         memory_percent=12
disk-full [dry-run]  -       no targets  -       -         -         -

rejected policy files:
  policies/bad.yaml: policies/bad.yaml:3: unknown probe 'hots.memory' (+1 more)"""


async def run_status(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the command in a thread, so the server in this event loop can answer it."""
    return await asyncio.to_thread(CliRunner().invoke, command, list(args), env=env)


@pytest.fixture(autouse=True)
def _away_from_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run in an empty folder: after `make run` the checkout holds `.medic/api.token`,
    which the CLI would find and send, changing the 401 message under test."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_status_prints_one_line_per_target_and_rejected_files(new_view: Any) -> None:
    """Against a real server: a headline, the aligned target table, the rejected files;
    a rejected file makes the exit status 1 and is named on stderr."""
    with capture_logs():  # structlog prints to stdout, which CliRunner is capturing
        server = await start_api(new_view())
        try:
            result = await run_status("--url", server.url)
        finally:
            await server.stop()
    assert result.exit_code == 1, result.output
    assert result.stderr == "medic status: policy file policies/bad.yaml rejected\n"
    headline, blank, table = result.stdout.rstrip("\n").split("\n", 2)
    assert headline.startswith("medic 0.1.0 on web-1, up 1h")
    assert headline.endswith(": 2 policies, 1 rejected file")
    assert blank == ""
    assert table == TABLE


@pytest.mark.integration
@pytest.mark.asyncio
async def test_status_json_holds_agent_policies_and_rejected(
    new_view: Any, client_for: Any
) -> None:
    """-o json (or the old --format json) prints health, policies and the verdict."""
    client = await client_for(new_view())
    result = await run_status("--url", str(client.make_url("")), "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"agent", "policies", "rejected", "healthy", "problems"}
    assert report["problems"] == ["policy file policies/bad.yaml rejected"]
    only = await run_status("--url", str(client.make_url("")), "-o", "json", "web-*")
    assert [p["name"] for p in json.loads(only.stdout)["policies"]] == ["web-memory"]
    assert report["agent"]["host"] == "web-1"
    assert [p["name"] for p in report["policies"]] == ["web-memory", "disk-full"]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_status_finds_the_agent_from_the_config(
    new_view: Any, client_for: Any, tmp_path: Path
) -> None:
    """--config: the URL comes from api.listen and the token from api.token."""
    client = await client_for(new_view(host="0.0.0.0", token="cfg-token"))
    config = tmp_path / "medic.yaml"
    config.write_text(f"api:\n  listen: 127.0.0.1:{client.port}\n  token: {{env: MY_TOKEN}}\n")
    result = await run_status("--config", str(config), env={"MY_TOKEN": "cfg-token"})
    assert result.exit_code == 1, result.output  # the view has a rejected file
    assert "web-memory           web" in result.stdout


@pytest.mark.integration
@pytest.mark.asyncio
async def test_status_token_env_and_the_401_message(
    new_view: Any, client_for: Any, tmp_path: Path
) -> None:
    """--token env:NAME / file:/path sends that token, and so does the old --token-env NAME
    (with a warning naming the new spelling); without one a 401 says what to pass."""
    client = await client_for(new_view(host="0.0.0.0", token="env-token"))
    url = str(client.make_url("")).rstrip("/")
    ok = await run_status("--url", url, "--token", "env:TOK", env={"TOK": "env-token"})
    assert "web-memory" in ok.stdout, ok.output
    assert ok.stderr.count("warning") == 0
    (tmp_path / "tok").write_text("env-token\n")
    from_file = await run_status("--url", url, "--token", f"file:{tmp_path / 'tok'}")
    assert "web-memory" in from_file.stdout, from_file.output
    old = await run_status("--url", url, "--token-env", "TOK", env={"TOK": "env-token"})
    assert "web-memory" in old.stdout, old.output
    assert old.stderr.startswith(
        "medic: warning: a bare variable name (TOK) is the old --token-env spelling:"
        " write --token env:TOK\n"
    )
    denied = await run_status("--url", url, env={"MEDIC_API_TOKEN": ""})
    assert denied.exit_code == 2
    assert denied.stderr == (
        f"medic status: the agent at {url} answered 401: this request needs a bearer token "
        "and sent none (this command found no token: none ($MEDIC_API_TOKEN is unset, no"
        " readable .medic/api.token); on the agent's host pass --config with the agent's"
        " config file, which reads the token it names or the one in its state_dir; else set"
        " MEDIC_API_TOKEN or pass --token env:NAME)\n"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_status_without_agent_says_how_to_start_it() -> None:
    """Nothing listening: the message names the URL and `medic run`; exit status 2."""
    url = f"http://127.0.0.1:{free_port()}"
    result = await run_status("--url", url)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert (
        result.stderr == f"medic status: no agent answering at {url} (start it with: medic run)\n"
    )


@pytest.mark.integration
def test_status_as_a_process_without_agent() -> None:
    """The installed command prints the same message from a real process and exits 2."""
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "medic", "status", "--url", url],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"medic status: no agent answering at {url} (start it with: medic run)\n"


def test_unset_token_env_and_bad_url_are_refused() -> None:
    """A --token naming an unset variable, a bad reference, or a non-http URL, is a
    clear error."""
    result = CliRunner().invoke(command, ["--token", "env:NOPE_UNSET"], env={"NOPE_UNSET": ""})
    assert (result.exit_code, result.stderr) == (
        2,
        "medic status: --token env:NOPE_UNSET: environment variable NOPE_UNSET is not set"
        " (hint: export NOPE_UNSET=<token> in this shell, or pass --token file:/path/to/token)\n",
    )
    result = CliRunner().invoke(command, ["--token", "vault:x"])
    assert (result.exit_code, result.stderr) == (
        2,
        "medic status: 'vault:x' is not a secret reference (hint: write env:NAME or"
        " file:/path/to/token)\n",
    )
    result = CliRunner().invoke(command, ["--url", "ftp://host"])
    assert result.stderr == "medic status: --url 'ftp://host' is not an http:// or https:// URL\n"


def test_ago_is_coarse_and_relative() -> None:
    """ago() picks the largest whole unit and reads ISO text or epoch seconds."""
    now = 1_700_000_000.0
    assert [ago(now - s, now) for s in (5, 190, 7300, 200_000)] == [
        "5s ago",
        "3m ago",
        "2h ago",
        "2d ago",
    ]
    assert ago("2023-11-14T22:12:20Z", now) == "1m ago"
    assert (ago(None, now), ago(now + 30, now)) == ("-", "0s ago")


def test_key_values_fit_one_line() -> None:
    """key_values() prints name=value pairs and cuts long ones with an ellipsis."""
    assert key_values({"percent": 93.25, "ok": True}) == "percent=93.25 ok=True"
    long = key_values({f"field_{i}": i for i in range(20)})
    assert len(long) == 60 and long.endswith("…")
    assert key_values(None) == "-"


def test_url_from_config_maps_wildcards_to_loopback() -> None:
    """An agent listening on every address is asked on loopback."""
    for host, url in (("0.0.0.0", "http://127.0.0.1:1"), ("::", "http://[::1]:1")):
        assert url_from_config(AgentConfig(api=ApiConfig(host=host, port=1))) == url
    assert url_from_config(AgentConfig()) == "http://127.0.0.1:9325"


def test_table_shows_probe_errors_and_an_empty_agent() -> None:
    """A policy whose probe failed shows the error; an agent with no policies says so."""
    failing = {"name": "db", "targets": [], "last_error": "connection refused"}
    assert rows([failing], 0.0) == [("db", "-", "probe error", "-", "-", "-", "connection refused")]
    health = {"version": "0.1.0", "host": "h", "uptime_seconds": 90, "policies": 1}
    text = render_table(health, {"policies": [], "rejected": []}, 0.0)
    assert text.splitlines() == [
        "medic 0.1.0 on h, up 1m30s: 1 policy, 0 rejected files",
        "",
        "POLICY                TARGET  STATE  SINCE  INCIDENT  ATTEMPTS  VALUES",
        "(no policies loaded)",
    ]
