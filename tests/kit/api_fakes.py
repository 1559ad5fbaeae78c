"""A fake agent view and audit store for the API tests, and the test client types.

The fakes hold the same shapes the real AuditStore returns (event rows with ISO times,
incident rows with ``status`` and ``escalated``), so the routes are tested against the
contract without a database.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from aiohttp.test_utils import TestClient

from medic.api.view import AgentView
from medic.audit.query import AuditQuery
from medic.clock import iso, parse_iso
from medic.config import AgentConfig, ApiConfig
from medic.errors import MedicError
from medic.metrics import Metrics

T0 = 1_700_000_000.0


def event(n: int, kind: str, incident: str | None, **fields: Any) -> dict[str, Any]:
    """One event row as the store returns it."""
    row: dict[str, Any] = {
        "id": n,
        "time": iso(T0 + n),
        "host": "web-1",
        "kind": kind,
        "policy": "web-memory",
        "target": "web",
        "incident": incident,
        "action": None,
        "outcome": None,
        "values": None,
        "details": {},
    }
    row.update(fields)
    return row


EVENTS = [
    event(1, "incident.detected", "inc-1", values={"memory_percent": 93.5}),
    event(2, "incident.fired", "inc-1", values={"memory_percent": 95.0}),
    event(3, "action.started", "inc-1", action="a-1", details={"step": "container.restart"}),
    event(4, "action.succeeded", "inc-1", action="a-1", outcome="ok"),
    event(5, "verify.healed", "inc-1", values={"memory_percent": 40.0}),
    event(6, "incident.detected", "inc-2", policy="disk-full", target="/var"),
    event(7, "action.failed", "inc-2", policy="disk-full", target="/var", outcome="error"),
    event(8, "agent.started", None, policy=None, target=None),
]

INCIDENTS: list[dict[str, Any]] = [
    {
        "id": "inc-2",
        "policy": "disk-full",
        "target": "/var",
        "host": "web-1",
        "opened": iso(T0 + 6),
        "closed": None,
        "status": "open",
        "escalated": True,
        "last_event": iso(T0 + 7),
    },
    {
        "id": "inc-1",
        "policy": "web-memory",
        "target": "web",
        "host": "web-1",
        "opened": iso(T0 + 1),
        "closed": iso(T0 + 5),
        "status": "healed",
        "escalated": False,
        "last_event": iso(T0 + 5),
    },
]


def _kind_matches(kind: str, wanted: tuple[str, ...]) -> bool:
    return any(
        kind.startswith(w) if w.endswith(".") else kind == w or kind.startswith(w + ".")
        for w in wanted
    )


class FakeAudit:
    """The read side of AuditStore over in-memory rows; records what it was asked."""

    def __init__(self) -> None:
        self.events = list(EVENTS)
        self.incident_rows = list(INCIDENTS)
        self.queries: list[AuditQuery] = []
        # The review routes read the file itself; none there reads as an empty log.
        self.path = Path("/nonexistent/medic-fake-audit.db")
        self.incident_calls: list[dict[str, Any]] = []

    async def query(self, q: AuditQuery) -> list[dict[str, Any]]:
        self.queries.append(q)
        out = [
            e
            for e in self.events
            if (q.since is None or parse_iso(e["time"]) >= q.since)
            and (q.until is None or parse_iso(e["time"]) < q.until)
            and all(
                getattr(q, col) is None or e[col] == getattr(q, col)
                for col in ("policy", "target", "incident", "outcome")
            )
            and (not q.kinds or _kind_matches(e["kind"], q.kinds))
        ]
        out.sort(key=lambda e: e["id"], reverse=q.order == "desc")
        return out[: q.limit]

    async def incident_events(self, incident: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["incident"] == incident]

    async def match_incidents(self, prefix: str, limit: int = 5) -> list[str]:
        ids = [str(i["id"]) for i in self.incident_rows]
        return [prefix] if prefix in ids else [i for i in ids if i.startswith(prefix)][:limit]

    async def incidents(
        self, *, open_only: bool = False, policy: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        self.incident_calls.append({"open_only": open_only, "policy": policy, "limit": limit})
        rows = [
            i
            for i in self.incident_rows
            if (not open_only or i["status"] == "open") and policy in (None, i["policy"])
        ]
        return rows[:limit]


def policy_states(now: float) -> list[dict[str, Any]]:
    return [
        {
            "name": "web-memory",
            "description": "Restart web when it leaks memory.",
            "probe": "container",
            "every": 15.0,
            "dry_run": False,
            "source": "policies/web.yaml",
            "targets": [
                {
                    "target": "web",
                    "state": "firing",
                    "incident": "inc-3",
                    "since": now - 190,
                    "attempts": 1,
                    "values": {"memory_percent": 93.25, "rss": 1024},
                },
                {
                    "target": "worker",
                    "state": "ok",
                    "incident": None,
                    "since": now - 7200,
                    "attempts": 0,
                    "values": {"memory_percent": 12.0},
                },
            ],
        },
        {
            "name": "disk-full",
            "description": "Clean /var when it fills.",
            "probe": "host.disk",
            "every": 60.0,
            "dry_run": True,
            "source": "policies/disk.yaml",
            "targets": [],
        },
    ]


REJECTED = [
    {
        "file": "policies/bad.yaml",
        "errors": ["policies/bad.yaml:3: unknown probe 'hots.memory'", "second error"],
    }
]


@dataclass
class FakeView:
    """An AgentView with fixed policies; counts reloads and can be told to fail."""

    config: AgentConfig
    started_at: float
    policies: list[dict[str, Any]]
    metrics: Metrics = field(default_factory=Metrics)
    audit: FakeAudit = field(default_factory=FakeAudit)
    rejected: list[dict[str, Any]] = field(default_factory=lambda: list(REJECTED))
    reloads: int = 0
    fail_with: Exception | None = None
    links: None = None  # no signed links
    unhealthy: list[dict[str, Any]] = field(default_factory=list)

    def problems(self) -> list[dict[str, Any]]:
        return self.unhealthy

    def policy_states(self) -> list[dict[str, Any]]:
        if self.fail_with is not None:
            raise self.fail_with
        return self.policies

    def rejected_files(self) -> list[dict[str, Any]]:
        return self.rejected

    async def reload(self) -> dict[str, Any]:
        if isinstance(self.fail_with, MedicError):
            raise self.fail_with
        self.reloads += 1
        return {"loaded": [p["name"] for p in self.policies], "rejected": self.rejected}


def make_view(
    *, host: str = "127.0.0.1", token: str | None = None, port: int = 0, started_at: float = 0.0
) -> FakeView:
    """A fake view whose config listens on ``host`` (only the auth rules read it)."""
    now = time.time()
    config = AgentConfig(host="web-1", api=ApiConfig(host=host, port=port, token=token))
    return FakeView(config=config, started_at=started_at or now - 3600, policies=policy_states(now))


def as_view(view: FakeView) -> AgentView:
    """The fake, typed as the protocol the API takes (its audit is a fake, too)."""
    return cast(AgentView, view)


Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[FakeView], Awaitable[Client]]
ViewFactory = Callable[..., FakeView]
