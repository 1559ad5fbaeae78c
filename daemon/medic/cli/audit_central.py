"""``medic audit list --central``: the fleet's events from the central PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import click

from medic import secrets
from medic.audit import query as q
from medic.config import load_config
from medic.errors import ConfigError, FleetError

DSN_ENV = "MEDIC_CENTRAL_AUDIT_DSN"


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


def central_list(config: Path | None, *, limit: int, **f: Any) -> list[dict[str, Any]]:
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
        order="desc",
    )
    try:
        return asyncio.run(central_events(central_dsn(config), query))
    except FleetError as exc:
        raise click.ClickException(exc.message) from exc
