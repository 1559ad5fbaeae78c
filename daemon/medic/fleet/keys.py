"""Where the fleet keeps its state in etcd: one prefix, names quoted so a host name
with a slash cannot reach into another key's space.

    medic/fleet/agents/<host>                  live record, under the agent's lease
    medic/fleet/seen/<host>                    last record, no lease (finds silent agents)
    medic/fleet/groups/<group>/agents/<host>   group membership, under the agent's lease
    medic/fleet/groups/<group>/slots/<n>       a budget slot, under the holder's lease
"""

from __future__ import annotations

from urllib.parse import quote, unquote

ROOT = "medic/fleet/"


def _q(name: str) -> str:
    return quote(name, safe="")


def agent(host: str) -> str:
    return f"{ROOT}agents/{_q(host)}"


def agents() -> str:
    return f"{ROOT}agents/"


def seen(host: str) -> str:
    return f"{ROOT}seen/{_q(host)}"


def seens() -> str:
    return f"{ROOT}seen/"


def member(group: str, host: str) -> str:
    return f"{members(group)}{_q(host)}"


def members(group: str) -> str:
    return f"{ROOT}groups/{_q(group)}/agents/"


def slot(group: str, index: int) -> str:
    return f"{slots(group)}{index}"


def slots(group: str) -> str:
    return f"{ROOT}groups/{_q(group)}/slots/"


def last_part(key: str) -> str:
    """The name at the end of a key, unquoted (a host, a slot number)."""
    return unquote(key.rsplit("/", 1)[-1])
