"""The central audit source: the fleet's events and incidents, shipped by every agent
(:mod:`medic.fleet.ship`) to one PostgreSQL, read with the same filters as the local
log (:mod:`medic.fleet.central`).

``medic audit list/show/export/incidents --central`` read it through
:func:`medic.cli.audit_source.open_source`; asyncpg is imported only then.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from medic import secrets
from medic.audit import query as q
from medic.config import load_config
from medic.errors import ConfigError, FleetError

DSN_ENV = "MEDIC_CENTRAL_AUDIT_DSN"
R = TypeVar("R")
Row = dict[str, Any]


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


class CentralSource:
    """Every host's audit, from the central PostgreSQL (one connection per read)."""

    name = "the central audit database"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def events(self, query: q.AuditQuery) -> list[Row]:
        from medic.fleet.central import central_events

        return _run(central_events(self.dsn, query))

    def incident(self, text: str) -> tuple[Row, list[Row]]:
        from medic.cli.audit_source import one_match
        from medic.fleet.central import central_incident

        found = _run(central_incident(self.dsn, text))
        if isinstance(found, tuple):
            return found
        one_match(text, found, self.name)  # raises: none, or more than one
        raise AssertionError("unreachable")  # pragma: no cover - one match is a tuple

    def incidents(
        self, *, open_only: bool, policy: str | None, target: str | None, limit: int
    ) -> list[Row]:
        from medic.fleet.central import central_incidents

        return _run(
            central_incidents(
                self.dsn, open_only=open_only, policy=policy, target=target, limit=limit
            )
        )
