"""``medic run``: the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
from pathlib import Path
from typing import TYPE_CHECKING

import click

from medic.config import AgentConfig, load_config, with_api_token
from medic.errors import ConfigError, MedicError

if TYPE_CHECKING:
    from medic.engine.agent import Agent
    from medic.engine.audit_alarm import Outage
    from medic.systemd_notify import SystemdNotifier


@click.command("run")
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(path_type=Path),
    help="Agent config (YAML). Without it: policies/ and .medic/ in the cwd.",
)
@click.option(
    "--policies",
    "-p",
    "policy_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Policy files or directories (replaces the config's list).",
)
@click.option("--dry-run", is_flag=True, help="Evaluate and audit everything, act on nothing.")
@click.option("--state-dir", type=click.Path(path_type=Path), help="Where the audit DB lives.")
@click.option("--listen", help="API address host:port (default 127.0.0.1:9325).")
@click.option("--no-api", is_flag=True, help="Do not start the HTTP API.")
@click.option("--log-format", type=click.Choice(["auto", "json", "console"]))
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]))
def command(
    config_path: Path | None,
    policy_paths: tuple[Path, ...],
    dry_run: bool,
    state_dir: Path | None,
    listen: str | None,
    no_api: bool,
    log_format: str | None,
    log_level: str | None,
) -> None:
    """Run the agent: evaluate policies, act within limits, audit everything."""
    from dataclasses import replace

    from medic import heap

    heap.limit_arenas()  # before any thread starts (medic.heap says why)

    from medic.config import parse_listen

    try:
        config = with_api_token(load_config(config_path))
        changes: dict[str, object] = {}
        if policy_paths:
            changes["policy_paths"] = policy_paths
        if dry_run:
            changes["dry_run"] = True
        if state_dir:
            changes["state_dir"] = state_dir
        if log_format:
            changes["log_format"] = log_format
        if log_level:
            changes["log_level"] = log_level
        api = config.api
        if listen:
            host, port = parse_listen(listen, "--listen")
            api = replace(api, host=host, port=port)
            if not api.loopback and not api.token:
                raise ConfigError(
                    f"--listen {listen} is beyond loopback and no API token is set",
                    hint="export MEDIC_API_TOKEN=... or listen on 127.0.0.1",
                )
        if no_api:
            api = replace(api, enabled=False)
        config = replace(config, api=api, **changes)  # type: ignore[arg-type]
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    serve(config)


def serve(config: AgentConfig) -> None:
    """Run the agent with this config until it is stopped."""
    from medic import heap
    from medic.audit import upgrade
    from medic.statelock import StateLock

    try:  # before the audit database opens: one agent per state directory
        lock = StateLock.acquire(config.state_dir)
    except MedicError as exc:
        raise click.ClickException(str(exc)) from exc
    # A pending migration runs in a child while the agent's modules load below, so
    # sqlite-utils never loads here (medic.audit.upgrade; the store migrates if it fails).
    apart = upgrade.start_apart(config.audit_path)
    from medic import logsetup
    from medic.systemd_notify import SystemdNotifier

    logsetup.configure(config.log_format, config.log_level)
    log_old_spellings(config)
    # A watchdog abort (SIGABRT) or a crash in C code prints every thread's stack to
    # stderr, i.e. the journal: where the event loop was stuck when systemd gave up.
    faulthandler.enable()
    agent = agent_with_api(config)
    notifier = SystemdNotifier.from_env()
    hook_service_manager(agent, notifier)
    apart.wait()

    def trim() -> None:  # what loading policies parsed is garbage now: give its pages back
        heap.trim()

    agent.on_ready.append(trim)
    agent.on_reload_done.append(trim)
    try:
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C during shutdown
            asyncio.run(agent.run_forever())
    except MedicError as exc:  # the API's port is taken, ...: one line, no traceback
        raise click.ClickException(str(exc)) from exc
    finally:
        notifier.close()
        lock.release()


def log_old_spellings(config: AgentConfig) -> None:
    """Warn, as the agent starts, of each secret its config or policies name the old
    way (``token_env: NAME``), with the file, the line and the new spelling."""
    from medic.secret_notices import log_notices, policy_notices

    log_notices((*config.notices, *policy_notices(config.policy_paths)))


def agent_with_api(config: AgentConfig) -> Agent:
    """The agent, handed the way to start its API: the one place the two are wired
    (the engine imports nothing of ``medic.api``). The API binds when the agent starts,
    after the audit log is read back and before anything is recorded or run."""
    from medic.api.server import start_api
    from medic.engine.agent import Agent

    agent = Agent(config)
    agent.serve = start_api
    return agent


def hook_service_manager(agent: Agent, notifier: SystemdNotifier) -> None:
    """Tell systemd what the agent does: READY once policies are loaded and the API
    listens, then watchdog pings from the event loop; RELOADING/READY around reloads
    (SIGHUP, ``systemctl reload medic``, edited files); STOPPING on the way out."""

    def status() -> str:
        if problems := agent.problems():
            return f"UNHEALTHY: {problems[0]['reason']}; not acting"
        text = f"{len(agent.runners)} policies running"
        if rejected := agent.rejected_files():
            text += f", {len(rejected)} file(s) rejected"
        return text + (" (dry-run)" if agent.config.dry_run else "")

    def ready() -> None:
        notifier.ready(status())
        notifier.start_watchdog()

    def alarm(outage: Outage | None) -> None:
        notifier.alarm(None if outage is None else outage.reason, status())

    agent.on_ready.append(ready)
    agent.engine.alarm.on_change.append(alarm)
    agent.on_reload_start.append(notifier.reloading)
    agent.on_reload_done.append(lambda: notifier.reloaded(status()))
    agent.on_stopping.append(notifier.stopping)
