"""The fleet's central audit database for tests: a PostgreSQL database of the test's
own on the provisioned cluster, and two agents' audit logs shipped into it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.fleet.ship import Shipper

ADMIN_DSN = "postgresql://medic_test:medic-test@127.0.0.1:5432/postgres"
HINT = "run scripts/provision-postgres.sh as root (installs and starts PostgreSQL 15)"
T0 = 1.7e9


async def create_db() -> str:
    """A new, empty database of the caller's own; its name."""
    try:
        admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL test superuser unreachable ({exc}): {HINT}")
    name = f"medic_fleet_{uuid.uuid4().hex[:10]}"
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    return name


async def drop_db(name: str) -> None:
    """Drop ``name`` and every connection to it."""
    admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    try:
        await admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


def dsn_of(name: str) -> str:
    """The DSN of the database ``name`` on the test cluster."""
    return ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"


async def ship(tmp: Path, host: str, events: list[AuditEvent], env: str = "CENTRAL_DSN") -> None:
    """Write ``events`` to ``host``'s own audit log and ship them all."""
    store = AuditStore(tmp / f"{host}.db", host=host)
    await store.start()
    shipper = Shipper(store, {"env": env}, every=0.1)
    try:
        for event in events:
            store.emit(event)
        await store.flush()
        await shipper.ship_once()
    finally:
        await shipper.stop()
        await store.close()


def healed(incident: str, policy: str, target: str, base: float) -> list[AuditEvent]:
    """An incident that fired, acted twice (attempts 1 and 2) and healed."""
    common = {"policy": policy, "target": target, "incident": incident}
    return [
        AuditEvent(
            Kind.DETECTED, base, values={"mem": 91}, details={"condition": "mem > 90"}, **common
        ),
        AuditEvent(Kind.FIRED, base + 1, values={"mem": 93}, **common),
        AuditEvent(
            Kind.ACTION_STARTED, base + 2, action="restart", details={"attempt": 1}, **common
        ),
        AuditEvent(
            Kind.ACTION_STARTED, base + 5, action="restart", details={"attempt": 2}, **common
        ),
        AuditEvent(Kind.VERIFY_HEALED, base + 9, values={"mem": 40}, **common),
    ]


def opened(incident: str, policy: str, target: str, base: float) -> list[AuditEvent]:
    """An incident that fired and is still open."""
    common = {"policy": policy, "target": target, "incident": incident}
    return [AuditEvent(Kind.FIRED, base, values={"disk": 97}, **common)]


@dataclass
class CentralReviewServer:
    url: str
    dsn: str
    base: float  # when the first incident opened
