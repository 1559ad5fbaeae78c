"""``medic audit list/show/export/incidents --central``: the fleet's audit from the
central PostgreSQL (events and incidents shipped by every agent, :mod:`medic.fleet.ship`).

asyncpg is imported only when ``--central`` is given."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from medic import secrets
from medic.audit import query as q
from medic.cli.audit_source import open_database
from medic.config import load_config
from medic.errors import ConfigError, FleetError

DSN_ENV = "MEDIC_CENTRAL_AUDIT_DSN"
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


def central_option(fn: F) -> F:
    return click.option(
        "--central",
        is_flag=True,
        help="Read the fleet's central PostgreSQL (the config's fleet.central_audit.dsn, "
        "or $MEDIC_CENTRAL_AUDIT_DSN) instead of the local database.",
    )(fn)


@contextmanager
def central_or_local(
    central: bool, db: Path | None, config: Path | None
) -> Iterator[tuple[sqlite3.Connection | None, Path | None]]:
    """The local database as :func:`open_database` gives it, or (None, None) with --central."""
    if central:
        if db is not None:
            raise click.ClickException("pass either --db or --central, not both")
        yield None, None
        return
    with open_database(db, config) as (conn, path):
        yield conn, path


def _run(work: Coroutine[Any, Any, R]) -> R:
    try:
        return asyncio.run(work)
    except FleetError as exc:
        raise click.ClickException(exc.message) from exc


def central_dsn(config: Path | None) -> str:
    """The central database's DSN: from the config's secret reference, else $MEDIC_..."""
    if config is not None:
        try:
            fleet = load_config(config).fleet
            if fleet is not None and fleet.central_dsn is not None:
                return secrets.resolve(fleet.central_dsn)
        except (ConfigError, secrets.SecretError) as exc:
            raise click.ClickException(str(exc)) from exc
    dsn = os.environ.get(DSN_ENV)
    if not dsn:
        raise click.ClickException(
            f"no central audit database: set {DSN_ENV} or pass --config with "
            "fleet.central_audit.dsn"
        )
    return dsn


def central_list(
    config: Path | None, *, limit: int, order: str = "desc", **f: Any
) -> list[dict[str, Any]]:
    """Events of every host matching the filters (newest first unless ``order`` is asc)."""
    from medic.fleet.central import central_events

    query = q.AuditQuery(
        since=f["since"],
        until=f["until"],
        policy=f["policy"],
        target=f["target"],
        incident=f["incident"],
        kinds=tuple(f["kinds"]),
        outcome=f["outcome"],
        limit=limit,
        order="asc" if order == "asc" else "desc",
    )
    return _run(central_events(central_dsn(config), query))


def central_show(config: Path | None, text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One incident of any host (a unique id prefix is enough) and its events."""
    from medic.fleet.central import central_incident

    found = _run(central_incident(central_dsn(config), text))
    if isinstance(found, tuple):
        return found
    if not found:
        raise click.ClickException(f"no incident {text!r} in the central audit database")
    raise click.ClickException(
        f"incident {text!r} is ambiguous ({', '.join(found)}): give more of the id"
    )


def central_incident_list(config: Path | None, **filters: Any) -> list[dict[str, Any]]:
    """Incidents of every host, most recently opened first."""
    from medic.fleet.central import central_incidents

    return _run(central_incidents(central_dsn(config), **filters))
