"""The fleet as ``medic fleet status`` and ``medic fleet incidents`` show it, read from etcd.

An agent is *live* while its leased record exists and its last heartbeat is recent
(three of its own heartbeats); one with only a last-seen copy, or an old heartbeat,
went *silent* (or stopped, if it said so when leaving). *Drift*: live agents whose
policy-set digest differs from the one most live agents have.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from medic.fleet import keys
from medic.fleet.client import Etcd


def _records(kvs: list[Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for kv in kvs:
        try:
            record = json.loads(kv.value)
        except ValueError:
            continue
        if isinstance(record, dict):
            out[keys.last_part(kv.key)] = record
    return out


async def fleet_status(etcd: Etcd, now: float) -> dict[str, Any]:
    """Every agent ever seen, with its state (live, silent, stopped), and the drift."""
    live = _records(await etcd.get_prefix(keys.agents()))
    seen = _records(await etcd.get_prefix(keys.seens()))
    agents = []
    for host in sorted(set(live) | set(seen)):
        record = live.get(host) or seen[host]
        age = now - float(record.get("heartbeat", 0))
        fresh = age <= 3 * float(record.get("heartbeat_every", 10))
        if host in live and fresh:
            state = "live"
        elif record.get("stopped"):
            state = "stopped"
        else:
            state = "silent"
        agents.append({**record, "host": host, "state": state, "last_heartbeat_age": age})
    digests = Counter(a.get("policy_digest") for a in agents if a["state"] == "live")
    majority = digests.most_common(1)[0][0] if digests else None
    for agent in agents:
        agent["drift"] = agent["state"] == "live" and agent.get("policy_digest") != majority
    return {
        "agents": agents,
        "silent": [a["host"] for a in agents if a["state"] == "silent"],
        "drift": [a["host"] for a in agents if a["drift"]],
        "majority_digest": majority,
    }


async def fleet_incidents(etcd: Etcd) -> list[dict[str, Any]]:
    """Open incidents of every live agent, oldest first."""
    live = _records(await etcd.get_prefix(keys.agents()))
    out = [
        {**incident, "host": host}
        for host, record in live.items()
        for incident in record.get("open_incidents", [])
        if isinstance(incident, dict)
    ]
    return sorted(out, key=lambda i: (i.get("since") or 0, i["host"]))
