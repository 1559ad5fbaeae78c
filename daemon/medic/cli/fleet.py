"""``medic fleet``: the fleet as etcd sees it (every agent's record), no agent needed.

``status`` lists the agents (live, silent, stopped) and those whose policy set differs
from the majority's (drift); ``incidents`` lists open incidents across the fleet. The
etcd endpoints come from ``--etcd`` or the agent config's ``fleet.etcd``. ``review``
serves the review page, read-only, over the central audit database instead
(:mod:`medic.api.central`).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from medic import humanize
from medic.cli import table
from medic.cli.output import output_option
from medic.config import load_config
from medic.errors import ConfigError, FleetError
from medic.fleet.client import Etcd
from medic.fleet.view import fleet_incidents, fleet_status

if TYPE_CHECKING:
    from medic.api.appkeys import ApiToken
    from medic.config import ApiConfig

# The agent's API is on 9325 by default: the fleet page sits next to it.
REVIEW_LISTEN = "127.0.0.1:9330"


def _endpoints(etcd: tuple[str, ...], config: Path | None) -> tuple[str, ...]:
    if etcd:
        return etcd
    try:
        fleet = load_config(config or Path("/etc/medic/medic.yaml")).fleet
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    if fleet is None or not fleet.etcd:
        raise click.ClickException("no etcd to ask: pass --etcd URL or a config with fleet.etcd")
    return fleet.etcd


async def _read(endpoints: tuple[str, ...], what: str) -> Any:
    client = Etcd(endpoints)
    try:
        if what == "status":
            return await fleet_status(client, time.time())
        return await fleet_incidents(client)
    finally:
        await client.close()


def _run(etcd: tuple[str, ...], config: Path | None, what: str) -> Any:
    try:
        return asyncio.run(_read(_endpoints(etcd, config), what))
    except FleetError as exc:
        raise click.ClickException(exc.message) from exc


_OPTIONS = [
    click.option("--etcd", multiple=True, help="An etcd client URL; repeat for each member."),
    click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="Agent config."),
    # The first spelling of `-o json`, kept for scripts.
    click.option("--json", "as_json", is_flag=True, hidden=True),
    output_option(["table", "json"]),
]


def _with_options(fn: Any) -> Any:
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


@click.group("fleet")
def command() -> None:
    """The fleet: every agent's record and open incidents (etcd), the central review page."""


@command.command("status")
@_with_options
def status_cmd(etcd: tuple[str, ...], config: Path | None, as_json: bool, output: str) -> None:
    """Agents (live, silent, stopped) and policy-set drift."""
    found = _run(etcd, config, "status")
    if as_json or output == "json":
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    click.echo(agents_table(found["agents"]))
    click.echo(f"silent: {', '.join(found['silent']) or 'none'}")
    click.echo(f"drift: {', '.join(found['drift']) or 'none'}")


@command.command("incidents")
@_with_options
def incidents_cmd(etcd: tuple[str, ...], config: Path | None, as_json: bool, output: str) -> None:
    """Open incidents of every live agent, oldest first."""
    found = _run(etcd, config, "incidents")
    if as_json or output == "json":
        click.echo(json.dumps(found, indent=2, sort_keys=True))
        return
    if not found:
        click.echo("no open incidents in the fleet")
        return
    headers = ("HOST", "POLICY", "TARGET", "STATE", "INCIDENT")
    rows = [[str(i.get(k.lower(), "-")) for k in headers] for i in found]
    click.echo(table.render(headers, rows, flex=(1, 2)))


def agents_table(agents: list[dict[str, Any]]) -> str:
    """One row per agent: host, state, version, policy digest (and drift), open
    incidents, how long ago its last heartbeat came."""
    headers = ("HOST", "STATE", "VERSION", "POLICIES", "OPEN", "HEARTBEAT")
    rows = [
        [
            str(a["host"]),
            str(a["state"]),
            str(a.get("version", "-")),
            str(a.get("policy_digest", "-")) + (" DRIFT" if a["drift"] else ""),
            str(len(a.get("open_incidents", []))),
            humanize.age(float(a["last_heartbeat_age"])),
        ]
        for a in agents
    ]
    return table.render(headers, rows, flex=(0,))


@command.command("review")
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="Agent config.")
@click.option("--listen", default=REVIEW_LISTEN, show_default=True, help="Address host:port.")
def review_cmd(config: Path | None, listen: str) -> None:
    """Serve the review page over the central audit database: every host's incidents."""
    from dataclasses import replace

    from medic.api.auth import configured_token
    from medic.cli.audit_central import central_dsn
    from medic.config import AgentConfig, parse_listen, with_api_token

    dsn = central_dsn(config)
    try:
        agent = with_api_token(load_config(config)) if config else AgentConfig()
        host, port = parse_listen(listen, "--listen")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    api = replace(agent.api, host=host, port=port)
    try:
        asyncio.run(_serve_review(dsn, api, configured_token(api)))
    except (FleetError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        pass


async def _serve_review(dsn: str, api: ApiConfig, token: ApiToken) -> None:
    from medic.api.central import open_pool, start_central

    pool = await open_pool(dsn)
    try:
        server = await start_central(api, token, pool)
        click.echo(f"fleet review page on {server.url}/ (read-only; Ctrl-C stops it)")
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()
    finally:
        await pool.close()
