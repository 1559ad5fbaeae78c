"""Read-only routes for the review page: the per-policy overview, the paged incident
list and one incident's header, timeline and chart.

Each request reads through the app's review source (:mod:`medic.api.review_source`):
the agent's audit log, or the fleet's central PostgreSQL for ``medic fleet review``,
where rows carry their host (``host=`` filters by it and names an incident's host).
Query parameters are checked strictly, as on the other audit routes: an unknown or
malformed one is a 400 that names it.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from aiohttp import web

from medic.api.appkeys import REVIEW
from medic.api.errors import ApiError, bad_parameter, dumps
from medic.api.routes_audit import Params
from medic.audit.review import STATUSES, BadCursor, IncidentFilter, decode_cursor, list_incidents
from medic.audit.review import overview as policy_overview
from medic.audit.review_incident import incident_review
from medic.bounds import OutOfBounds, whole

MAX_PAGE = 500
DAY = 86400.0
# Longest the overview looks back: a year of incidents is still one index range.
MAX_PERIOD = 366 * DAY


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
    params = Params(request, ("since", "until", "host"))
    now = time.time()
    since, until = _period(params, now)
    since = now - DAY if since is None else since
    until = now if until is None else until
    if until - since > MAX_PERIOD:
        raise bad_parameter("since", "is more than 366 days before until", "e.g. since=30d")
    none: list[dict[str, Any]] = []
    source, host = request.app[REVIEW], params.text("host")
    policies = await source.read(lambda db: policy_overview(db, since, until, host), none)
    body = {
        "since": since,
        "until": until,
        "view": "central" if source.central else "agent",
        "agent": source.about(),
        "policies": policies,
    }
    return web.json_response(body, dumps=dumps)


async def review_incidents(request: web.Request) -> web.Response:
    """Incidents by policy, target, host, status and time, newest first, a page at a time."""
    params = Params(
        request,
        ("policy", "target", "host", "status", "since", "until", "limit", "after", "before"),
    )
    now = time.time()
    source = request.app[REVIEW]
    status = params.text("status")
    if status is not None and status not in STATUSES:
        raise bad_parameter(
            "status", f"{status!r} is not a status", f"one of: {', '.join(STATUSES)}"
        )
    if status == "awaiting" and source.central:
        raise bad_parameter(
            "status",
            "'awaiting' is not known centrally: approvals live with the agent that asked",
            "open the agent's own page to see and answer its approvals",
        )
    since, until = _period(params, now)
    filt = IncidentFilter(
        params.text("policy"), params.text("target"), status, since, until, params.text("host")
    )
    limit, cursor = _page_size(params), _cursor(params)
    page = await source.read(
        lambda db: list_incidents(db, filt, limit=limit, now=now, cursor=cursor), None
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
    host = Params(request, ("host",)).text("host")
    incident = request.match_info["incident"]
    now = time.time()
    found = await request.app[REVIEW].read(
        lambda db: incident_review(db, incident, now, host), None
    )
    if found is None:
        on = f" on host {host!r}" if host is not None else ""
        raise ApiError(
            404,
            f"no incident {incident!r}{on}",
            hint="GET /api/v1/review/incidents lists incidents (with their host); "
            "an id two hosts share needs host=",
        )
    return web.json_response(found, dumps=dumps)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/v1/review/overview", overview),
        web.get("/api/v1/review/incidents", review_incidents),
        web.get("/api/v1/review/incidents/{incident}", review_incident),
    ]
