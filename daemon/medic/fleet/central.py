"""Reading the central audit database: the same filters as the local log's queries
(:mod:`medic.audit.query`), over every host's events."""

from __future__ import annotations

import itertools
import re
from typing import Any

from medic.audit import query as q
from medic.fleet.ship import connect_central

_PLACEHOLDER = re.compile(r"\?")


def to_postgres(sql: str, params: list[Any]) -> tuple[str, list[Any]]:
    """SQLite's ``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (the filters hold no
    literal question marks: values always travel as parameters), and SQLite's ``GLOB``
    as an anchored POSIX regular expression (``~``) with its pattern translated."""
    numbers = itertools.count(1)
    out = list(params)
    pieces = _PLACEHOLDER.split(sql)
    text = pieces[0]
    for index, piece in enumerate(pieces[1:]):
        if text.endswith(" GLOB "):
            text = text[: -len(" GLOB ")] + " ~ "
            out[index] = glob_regex(str(out[index]))
        text += f"${next(numbers)}" + piece
    return text, out


def glob_regex(pattern: str) -> str:
    """A SQLite GLOB pattern (``*``, ``?``, ``[a-z]``, ``[^x]``) as a regex matching the
    whole text."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        end = pattern.find("]", i + 2) if char == "[" else -1
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif end > 0:
            out.append(pattern[i : end + 1])
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out) + "$"


async def _fetch(dsn: str, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    text, values = to_postgres(sql, params)
    conn = await connect_central(dsn)
    try:
        rows = await conn.fetch(text, *values)
    finally:
        await conn.close()
    out = []
    for row in rows:
        item = q.decode_row(dict(row))
        if "escalated" in item and "kind" not in item:
            q.incident_row(item)
        out.append(item)
    return out


async def central_events(dsn: str, query: q.AuditQuery) -> list[dict[str, Any]]:
    """Events of the whole fleet matching ``query``, like :func:`medic.audit.query.list_events`."""
    where, params = q.where_clause(query)
    direction = "ASC" if query.order == "asc" else "DESC"
    sql = f"SELECT * FROM events{where} ORDER BY time {direction}, host, id {direction}"  # noqa: S608 -- fixed column names and placeholders only
    if query.limit > 0:
        sql += " LIMIT ?"
        params.append(query.limit)
    return await _fetch(dsn, sql, params)


async def central_incidents(
    dsn: str, *, open_only: bool, policy: str | None, target: str | None, limit: int
) -> list[dict[str, Any]]:
    """The fleet's incidents, most recently opened first (like ``list_incidents``)."""
    condition, params = q.incident_filter(open_only=open_only, policy=policy, target=target)
    where = (" WHERE " + condition) if condition else ""
    sql = f"SELECT * FROM incidents{where} ORDER BY opened DESC, host, id LIMIT ?"  # noqa: S608 -- fixed clauses and placeholders only
    return await _fetch(dsn, sql, [*params, limit])


async def central_incident(
    dsn: str, text: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | list[str]:
    """The incident whose id is ``text`` or starts with it, and its events in time order;
    or the ids it could be (none, or more than one)."""
    sql = (
        "SELECT * FROM incidents WHERE id = ? OR substr(id, 1, ?) = ? ORDER BY opened DESC LIMIT 5"
    )
    found = await _fetch(dsn, sql, [text, len(text), text])
    exact = [i for i in found if i["id"] == text]
    if len(exact) == 1:
        found = exact
    if len(found) != 1:
        return [f"{i['id']}@{i['host']}" for i in found]
    incident = found[0]
    events = await _fetch(
        dsn,
        "SELECT * FROM events WHERE incident = ? AND host = ? ORDER BY time, id",
        [incident["id"], incident["host"]],
    )
    return incident, events
