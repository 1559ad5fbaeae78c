"""This agent as a member of the fleet: its budgets, its record and its shipper, built
from the agent config's ``fleet:`` section and started and stopped with the agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from medic.audit.store import AuditStore
from medic.fleet.budget import Budgets
from medic.fleet.client import Etcd
from medic.fleet.registry import Registration
from medic.fleet.settings import FleetConfig
from medic.fleet.ship import Shipper


class FleetMember:
    def __init__(self, config: FleetConfig, host: str, audit: AuditStore) -> None:
        self.etcd = Etcd(config.etcd) if config.etcd else None
        self.budgets = Budgets(self.etcd, host, lease_ttl=config.lease_ttl) if self.etcd else None
        self.config = config
        self.host = host
        self.registration: Registration | None = None
        self.shipper = (
            Shipper(audit, config.central_dsn, config.ship_every) if config.central_dsn else None
        )

    def start(self, describe: Callable[[], dict[str, Any]]) -> None:
        if self.etcd is not None:
            self.registration = Registration(
                self.etcd, self.host, self.config.groups, self.config.heartbeat, describe
            )
            self.registration.start()
        if self.shipper is not None:
            self.shipper.start()

    async def stop(self) -> None:
        """Give back held slots, leave the fleet view, ship what is left (bounded), close
        the connections."""
        if self.budgets is not None:
            await self.budgets.release_all()
        if self.registration is not None:
            await self.registration.stop()
        if self.shipper is not None:
            await self.shipper.stop()
        if self.etcd is not None:
            await self.etcd.close()
