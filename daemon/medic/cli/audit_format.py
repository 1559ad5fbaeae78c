"""How ``medic audit`` prints what it read: tables for people, jsonl and csv for scripts.

Tables (:mod:`medic.cli.table`) fit the terminal and show times to the second, in UTC
or, with ``--local``, the local zone; json, jsonl and csv are streamed row by row with
every column and the stored times, so an export of a million events never sits in memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from medic import humanize
from medic.cli import table

EVENT_FIELDS = ["id", "time", "host", "kind", "policy", "target", "incident", "action"]
EVENT_FIELDS += ["outcome", "values", "details"]
HASH_FIELDS = ["prev_hash", "hash"]
INCIDENT_FIELDS = ["id", "policy", "target", "host", "status", "escalated", "opened", "closed"]


def when(text: str | None, local: bool = False) -> str:
    """An ISO time to the second (UTC ``Z``, or local with its offset), ``-`` if none."""
    return humanize.moment(text, local=local)


def _short_id(text: str | None) -> str:
    return "" if not text else (text[:8] if len(text) > 12 else text)


def pairs(data: Any, sep: str = " ") -> str:
    """A mapping as ``key=value`` pairs (values that are not text as JSON)."""
    if not isinstance(data, dict):
        return "" if data is None else json.dumps(data)
    return sep.join(
        f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
        for k, v in data.items()
    )


def event_table(events: list[dict[str, Any]], local: bool = False) -> str:
    """Events, one line each: time, kind, policy, target, incident, outcome, summary."""
    headers = ["TIME", "KIND", "POLICY", "TARGET", "INCIDENT", "OUTCOME", "SUMMARY"]
    rows = [
        [
            when(e["time"], local),
            e["kind"],
            e["policy"] or "",
            e["target"] or "",
            _short_id(e["incident"]),
            e["outcome"] or "",
            pairs(e["details"]) or pairs(e["values"]),
        ]
        for e in events
    ]
    return table.render(headers, rows, flex=(2, 3, 6))


def incident_table(incidents: list[dict[str, Any]], local: bool = False) -> str:
    """Incidents, one line each, every column but the host."""
    rows = [[i["id"], i["policy"] or "", i["target"] or "", i["status"]] for i in incidents]
    for row, i in zip(rows, incidents, strict=True):
        row += ["yes" if i["escalated"] else "no", when(i["opened"], local)]
        row.append(when(i["closed"], local))
    headers = [f.upper() for f in INCIDENT_FIELDS if f != "host"]
    return table.render(headers, rows, flex=(1, 2))


def event_lines(events: Iterable[dict[str, Any]], local: bool = False) -> Iterator[str]:
    """An incident's events as its story: a line per event, then its values and details."""
    for e in events:
        line = [when(e["time"], local), e["kind"]]
        line += [f"{k}={e[k]}" for k in ("action", "outcome") if e[k]]
        yield "  ".join(line)
        if e["values"]:
            yield f"    values:  {pairs(e['values'], '  ')}"
        if e["details"]:
            yield f"    details: {pairs(e['details'], '  ')}"


def write_rows(rows: Iterable[dict[str, Any]], fields: list[str], fmt: str, out: IO[str]) -> int:
    """json (one array), jsonl or csv, streamed; returns how many rows were written."""
    if fmt == "json":
        return _write_array(rows, fields, out)
    count = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(fields)
    for row in rows:
        count += 1
        if writer is None:
            out.write(json.dumps({k: row[k] for k in fields}, ensure_ascii=False) + "\n")
            continue
        writer.writerow([_cell(row[k]) for k in fields])
    return count


def _write_array(rows: Iterable[dict[str, Any]], fields: list[str], out: IO[str]) -> int:
    """One JSON array, a row per line, written as the rows come."""
    count = 0
    for row in rows:
        out.write("[\n" if count == 0 else ",\n")
        out.write(json.dumps({k: row[k] for k in fields}, ensure_ascii=False))
        count += 1
    out.write("[]\n" if count == 0 else "\n]\n")
    return count


def _cell(value: Any) -> str:
    """A CSV cell: text as is, None empty, anything else (JSON columns) as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
