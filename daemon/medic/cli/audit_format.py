"""How ``medic audit`` prints what it read: tables for people, jsonl and csv for scripts.

Tables cut long cells and show times to the second; jsonl and csv are streamed row by
row with every column, so an export of a million events never sits in memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

EVENT_FIELDS = ["id", "time", "host", "kind", "policy", "target", "incident", "action"]
EVENT_FIELDS += ["outcome", "values", "details"]
HASH_FIELDS = ["prev_hash", "hash"]
INCIDENT_FIELDS = ["id", "policy", "target", "host", "status", "escalated", "opened", "closed"]


def when(text: str | None) -> str:
    """An ISO time to the second, or ``-`` when there is none."""
    return "-" if not text else text[:19] + "Z"


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


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(headers: list[str], rows: list[list[str]], out: IO[str]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        out.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        out.write("\n")


def event_table(events: list[dict[str, Any]], out: IO[str]) -> None:
    """Events, one line each: time, kind, policy, target, incident, outcome, summary."""
    headers = ["TIME", "KIND", "POLICY", "TARGET", "INCIDENT", "OUTCOME", "SUMMARY"]
    rows = [
        [
            when(e["time"]),
            e["kind"],
            _cut(e["policy"] or "", 28),
            _cut(e["target"] or "", 32),
            _short_id(e["incident"]),
            e["outcome"] or "",
            _cut(pairs(e["details"]) or pairs(e["values"]), 80),
        ]
        for e in events
    ]
    _table(headers, rows, out)


def incident_table(incidents: list[dict[str, Any]], out: IO[str]) -> None:
    """Incidents, one line each, every column but the host."""
    rows = [[i["id"], i["policy"] or "", i["target"] or "", i["status"]] for i in incidents]
    for row, i in zip(rows, incidents, strict=True):
        row += ["yes" if i["escalated"] else "no", when(i["opened"]), when(i["closed"])]
    _table([f.upper() for f in INCIDENT_FIELDS if f != "host"], rows, out)


def event_lines(events: Iterable[dict[str, Any]]) -> Iterator[str]:
    """An incident's events as its story: a line per event, then its values and details."""
    for e in events:
        line = [when(e["time"]), e["kind"]]
        line += [f"{k}={e[k]}" for k in ("action", "outcome") if e[k]]
        yield "  ".join(line)
        if e["values"]:
            yield f"    values:  {pairs(e['values'], '  ')}"
        if e["details"]:
            yield f"    details: {pairs(e['details'], '  ')}"


def write_rows(rows: Iterable[dict[str, Any]], fields: list[str], fmt: str, out: IO[str]) -> int:
    """jsonl or csv, streamed; returns how many rows were written."""
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


def _cell(value: Any) -> str:
    """A CSV cell: text as is, None empty, anything else (JSON columns) as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
