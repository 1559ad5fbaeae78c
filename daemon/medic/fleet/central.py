"""Reading the central audit database: the same filters as the local log's queries
(:mod:`medic.audit.query`), over every host's events."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from medic.audit import query as q
from medic.fleet.ship import connect_central

_PLACEHOLDER = re.compile(r"\?")


def to_postgres(sql: str) -> str:
    """SQLite's ``?`` placeholders as PostgreSQL's ``$1, $2, ...`` (the filters hold no
    literal question marks: values always travel as parameters)."""
    numbers = itertools.count(1)
    return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)


async def central_events(dsn: str, query: q.AuditQuery) -> list[dict[str, Any]]:
    """Events of the whole fleet matching ``query``, like :func:`medic.audit.query.list_events`."""
    where, params = q.where_clause(query)
    direction = "ASC" if query.order == "asc" else "DESC"
    sql = f"SELECT * FROM events{where} ORDER BY time {direction}, host, id {direction}"  # noqa: S608 -- fixed column names and placeholders only
    if query.limit > 0:
        sql += " LIMIT ?"
        params.append(query.limit)
    conn = await connect_central(dsn)
    try:
        rows = await conn.fetch(to_postgres(sql), *params)
    finally:
        await conn.close()
    out = []
    for row in rows:
        item = dict(row)
        for column in ("values", "details"):
            if isinstance(item.get(column), str):
                item[column] = json.loads(item[column])
        out.append(item)
    return out
