"""Incidents and audit-log queries: what the on-call person reads after the night.

Query parameters are checked strictly: an unknown or malformed parameter is a 400 that
names it and says how to write it, never a silently ignored filter that returns the
wrong events.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Collection
from typing import Literal

from aiohttp import web

from medic.api.appkeys import VIEW
from medic.api.errors import ApiError, bad_parameter, dumps
from medic.api.ids import incident_id
from medic.audit.events import Kind
from medic.audit.query import AuditQuery
from medic.bounds import TIME_HINT, OutOfBounds, text, when, whole

MAX_LIMIT = 10_000
KINDS = sorted(k.value for k in Kind)
KIND_PREFIXES = sorted({k.split(".")[0] + "." for k in KINDS})
# The store also reads a bare family name ("action") as the prefix "action.".
KIND_FAMILIES = frozenset(prefix[:-1] for prefix in KIND_PREFIXES)


class Params:
    """The query string of one request, checked against the parameters a route takes."""

    def __init__(
        self, request: web.Request, allowed: Collection[str], repeatable: Collection[str] = ()
    ) -> None:
        self.query = request.query
        route = f"{request.method} {request.path}"
        for name in self.query:
            if name not in allowed:
                raise bad_parameter(
                    name, f"not a parameter of {route}", f"use one of: {', '.join(allowed)}"
                )
            count = len(self.query.getall(name))
            if count > 1 and name not in repeatable:
                raise bad_parameter(name, f"given {count} times", f"give {name} once")

    def text(self, name: str) -> str | None:
        """The value, or None when absent or empty (an empty filter box means no filter)."""
        return self._bounded(name, self.query.get(name, "")).strip() or None

    @staticmethod
    def _bounded(name: str, value: str) -> str:
        try:
            return text(value)
        except OutOfBounds as exc:
            raise bad_parameter(name, exc.message, exc.hint or "") from None

    def limit(self, default: int) -> int:
        raw = self.text("limit")
        if raw is None:
            return default
        try:
            return whole(raw, minimum=1, maximum=MAX_LIMIT)
        except OutOfBounds as exc:
            raise bad_parameter(
                "limit", exc.message, f"e.g. limit=100 (the most is {MAX_LIMIT})"
            ) from None

    def flag(self, name: str, meaning: str) -> bool:
        raw = (self.text(name) or "false").lower()
        if raw in {"true", "1", "yes"}:
            return True
        if raw in {"false", "0", "no"}:
            return False
        raise bad_parameter(
            name, f"{raw!r} is not true or false", f"write {name}=true for {meaning}, or false"
        )

    def time(self, name: str, now: float) -> float | None:
        """An ISO time (UTC unless it says otherwise) or a duration meaning that long ago,
        within the years 2000 to 2100 (:mod:`medic.bounds`)."""
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return when(raw, now)
        except OutOfBounds as exc:
            # An unencoded '+' in a URL arrives as a space: '...T12:00:00 02:00'.
            if " " in raw:
                try:
                    return when("+".join(raw.rsplit(" ", 1)), now)
                except OutOfBounds:
                    pass
            raise bad_parameter(name, exc.message, exc.hint or TIME_HINT) from None

    def order(self) -> Literal["asc", "desc"]:
        raw = self.text("order") or "desc"
        if raw == "asc":
            return "asc"
        if raw == "desc":
            return "desc"
        raise bad_parameter(
            "order",
            f"{raw!r} is not asc or desc",
            "write order=asc (oldest first) or order=desc (newest first)",
        )

    def kinds(self) -> tuple[str, ...]:
        """Every ``kind`` given (repeated or comma-separated): exact kinds or prefixes."""
        out: list[str] = []
        for value in self.query.getall("kind", []):
            self._bounded("kind", value)
            for kind in filter(None, (part.strip() for part in value.split(","))):
                if kind not in KINDS and kind not in KIND_PREFIXES and kind not in KIND_FAMILIES:
                    raise bad_parameter(
                        "kind", f"{kind!r} is not an audit event kind", _kind_hint(kind)
                    )
                out.append(kind)
        return tuple(out)


def _kind_hint(kind: str) -> str:
    close = difflib.get_close_matches(kind, KINDS + KIND_PREFIXES, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"{guess}write a kind like action.failed, or a prefix ending in a dot: " + ", ".join(
        KIND_PREFIXES
    )


async def list_incidents(request: web.Request) -> web.Response:
    """Recent incidents, newest first; open=true keeps only those not healed or cleared."""
    params = Params(request, ("open", "policy", "limit"))
    incidents = await request.app[VIEW].audit.incidents(
        open_only=params.flag("open", "open incidents only"),
        policy=params.text("policy"),
        limit=params.limit(100),
    )
    return web.json_response({"incidents": incidents, "count": len(incidents)}, dumps=dumps)


async def get_incident(request: web.Request) -> web.Response:
    """One incident's story: every audit event that carries its id, in time order."""
    Params(request, ())
    incident = await incident_id(request.app[VIEW], request.match_info["incident"])
    events = await request.app[VIEW].audit.incident_events(incident)
    if not events:
        raise ApiError(
            404,
            f"no audit events for incident {incident!r}",
            hint="GET /api/v1/incidents lists recent incidents",
        )
    return web.json_response({"incident": incident, "events": events}, dumps=dumps)


async def query_audit(request: web.Request) -> web.Response:
    """Audit events filtered by time, policy, target, incident, kind and outcome."""
    params = Params(
        request,
        ("since", "until", "policy", "target", "incident", "kind", "outcome", "limit", "order"),
        repeatable=("kind",),
    )
    now = time.time()
    since, until = params.time("since", now), params.time("until", now)
    if since is not None and until is not None and since > until:
        raise bad_parameter(
            "since", "is later than until", "swap since and until, or leave one of them out"
        )
    query = AuditQuery(
        since=since,
        until=until,
        policy=params.text("policy"),
        target=params.text("target"),
        incident=params.text("incident"),
        kinds=params.kinds(),
        outcome=params.text("outcome"),
        limit=params.limit(1000),
        order=params.order(),
    )
    events = await request.app[VIEW].audit.query(query)
    return web.json_response({"events": events, "count": len(events)}, dumps=dumps)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/incidents", list_incidents),
        web.get("/api/v1/incidents/{incident}", get_incident),
        web.get("/api/v1/audit", query_audit),
    ]
