"""Read-only routes for the review page: the per-policy overview, the paged incident
list and one incident's header, timeline and chart.

Each request reads the audit database on its own read-only connection in a worker
thread (the file is WAL, so reads never wait for the writer). Query parameters are
checked strictly, as on the other audit routes: an unknown or malformed one is a 400
that names it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from aiohttp import web

from medic.api.appkeys import VIEW
from medic.api.errors import ApiError, bad_parameter, dumps
from medic.api.routes_audit import Params
from medic.audit.query import connect_readonly
from medic.audit.review import STATUSES, BadCursor, IncidentFilter, decode_cursor, list_incidents
from medic.audit.review import overview as policy_overview
from medic.audit.review_incident import incident_review
from medic.bounds import OutOfBounds, whole

T = TypeVar("T")
MAX_PAGE = 500
DAY = 86400.0
# Longest the overview looks back: a year of incidents is still one index range.
MAX_PERIOD = 366 * DAY


async def _read(request: web.Request, fn: Callable[[sqlite3.Connection], T], empty: T) -> T:
    """Run ``fn`` on a fresh read-only connection; ``empty`` when there is no database yet."""
    path: Path = request.app[VIEW].audit.path

    def run() -> T:
        if not path.exists():
            return empty
        conn = connect_readonly(path)
        try:
            return fn(conn)
        finally:
            conn.close()

    return await asyncio.to_thread(run)


def _page_size(params: Params) -> int:
    raw = params.text("limit")
    if raw is None:
        return 50
    try:
        return whole(raw, minimum=1, maximum=MAX_PAGE)
    except OutOfBounds as exc:
        raise bad_parameter("limit", exc.message, "e.g. limit=50") from None


def _period(params: Params, now: float) -> tuple[float | None, float | None]:
    since, until = params.time("since", now), params.time("until", now)
    if since is not None and until is not None and since > until:
        raise bad_parameter(
            "since", "is later than until", "swap since and until, or leave one of them out"
        )
    return since, until


def _cursor(params: Params) -> tuple[Literal["after", "before"], str] | None:
    after, before = params.text("after"), params.text("before")
    if after and before:
        raise bad_parameter("after", "given with before", "page one way at a time")
    for name, value in (("after", after), ("before", before)):
        if value is None:
            continue
        try:
            decode_cursor(value)
        except BadCursor:
            raise bad_parameter(
                name, f"{value!r} is not a paging cursor", "use the next or prev value of a page"
            ) from None
        return ("after", value) if name == "after" else ("before", value)
    return None


async def overview(request: web.Request) -> web.Response:
    """Per policy, incidents opened in a period: fired, healed, escalated, suppressed, heal rate."""
    params = Params(request, ("since", "until"))
    now = time.time()
    since, until = _period(params, now)
    since = now - DAY if since is None else since
    until = now if until is None else until
    if until - since > MAX_PERIOD:
        raise bad_parameter("since", "is more than 366 days before until", "e.g. since=30d")
    none: list[dict[str, Any]] = []
    policies = await _read(request, lambda c: policy_overview(c, since, until), none)
    config = request.app[VIEW].config
    body = {
        "since": since,
        "until": until,
        "agent": {"host": config.host, "dry_run": config.dry_run},
        "policies": policies,
    }
    return web.json_response(body, dumps=dumps)


async def review_incidents(request: web.Request) -> web.Response:
    """Incidents by policy, target, status and time, newest first, a page at a time."""
    params = Params(
        request, ("policy", "target", "status", "since", "until", "limit", "after", "before")
    )
    now = time.time()
    status = params.text("status")
    if status is not None and status not in STATUSES:
        raise bad_parameter(
            "status", f"{status!r} is not a status", f"one of: {', '.join(STATUSES)}"
        )
    since, until = _period(params, now)
    filt = IncidentFilter(params.text("policy"), params.text("target"), status, since, until)
    limit, cursor = _page_size(params), _cursor(params)
    page = await _read(
        request, lambda c: list_incidents(c, filt, limit=limit, now=now, cursor=cursor), None
    )
    body = {
        "incidents": page.incidents if page else [],
        "count": len(page.incidents) if page else 0,
        "total": page.total if page else 0,
        "next": page.next if page else None,
        "prev": page.prev if page else None,
    }
    return web.json_response(body, dumps=dumps)


async def review_incident(request: web.Request) -> web.Response:
    """One incident: header (status, duration, attempts, who answered), timeline, chart."""
    Params(request, ())
    incident = request.match_info["incident"]
    now = time.time()
    found = await _read(request, lambda c: incident_review(c, incident, now), None)
    if found is None:
        raise ApiError(
            404,
            f"no incident {incident!r}",
            hint="GET /api/v1/review/incidents lists incidents",
        )
    return web.json_response(found, dumps=dumps)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/review/overview", overview),
        web.get("/api/v1/review/incidents", review_incidents),
        web.get("/api/v1/review/incidents/{incident}", review_incident),
    ]
