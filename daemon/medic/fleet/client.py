"""A small etcd v3 client over etcd's JSON gateway (``/v3/...`` on the client port).

Only what the fleet needs: range, put, delete, transactions and leases. Keys and
values travel base64-encoded, 64-bit integers as decimal strings (proto3 JSON). Each
request goes to one member and, when that member cannot be reached or cannot answer
in time (it lost quorum), to the next; when none answers the call raises
:class:`~medic.errors.FleetError`, and the caller decides whether to fail closed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from medic.errors import FleetError
from medic.lazy import lazy_module

if TYPE_CHECKING:
    import aiohttp
else:
    aiohttp = lazy_module("aiohttp")

# One member's answer must come within this; a member without quorum hangs until then.
REQUEST_TIMEOUT = 2.0


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def prefix_end(prefix: str) -> str:
    """The range end that covers every key starting with ``prefix`` (its last byte + 1)."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return base64.b64encode(bytes(raw)).decode()


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str
    create_revision: int
    mod_revision: int
    lease: int

    def json(self) -> Any:
        return json.loads(self.value)


def _kv(raw: Mapping[str, Any]) -> KeyValue:
    return KeyValue(
        key=unb64(raw["key"]),
        value=unb64(raw.get("value", "")),
        create_revision=int(raw.get("create_revision", 0)),
        mod_revision=int(raw.get("mod_revision", 0)),
        lease=int(raw.get("lease", 0)),
    )


def put_op(key: str, value: str, lease: int = 0) -> dict[str, Any]:
    """A put inside a transaction."""
    body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
    if lease:
        body["lease"] = str(lease)
    return {"request_put": body}


def absent(key: str) -> dict[str, Any]:
    """A transaction compare: ``key`` does not exist."""
    return {"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def unchanged(key: str, mod_revision: int) -> dict[str, Any]:
    """A transaction compare: ``key`` was last written at ``mod_revision``."""
    return {"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(mod_revision)}


class Etcd:
    """Calls to one etcd cluster through any of its members' client URLs."""

    def __init__(self, endpoints: Sequence[str], *, timeout: float = REQUEST_TIMEOUT) -> None:
        if not endpoints:
            raise FleetError("no etcd endpoint configured", hint="fleet.etcd: [http://host:2379]")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._preferred = 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path`` on the first member that answers; FleetError if none."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        errors = []
        count = len(self.endpoints)
        for step in range(count):
            index = (self._preferred + step) % count
            url = self.endpoints[index] + path
            try:
                async with self._session.post(url, json=body) as resp:
                    data: dict[str, Any] = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                errors.append(f"{self.endpoints[index]}: {type(exc).__name__} {exc}".strip())
                continue
            if resp.status >= 500:  # this member cannot serve it (no leader, timed out)
                errors.append(f"{self.endpoints[index]}: {data.get('message', resp.status)}")
                continue
            if resp.status != 200:
                raise FleetError(f"etcd refused {path}: {data.get('message', resp.status)}")
            self._preferred = index
            return data
        raise FleetError(f"no etcd member answered {path}: {'; '.join(errors)}")

    async def get_prefix(self, prefix: str) -> list[KeyValue]:
        data = await self.call(
            "/v3/kv/range", {"key": b64(prefix), "range_end": prefix_end(prefix)}
        )
        return [_kv(kv) for kv in data.get("kvs", [])]

    async def get(self, key: str) -> KeyValue | None:
        data = await self.call("/v3/kv/range", {"key": b64(key)})
        kvs = data.get("kvs", [])
        return _kv(kvs[0]) if kvs else None

    async def put(self, key: str, value: str, lease: int = 0) -> None:
        await self.call("/v3/kv/put", put_op(key, value, lease)["request_put"])

    async def delete(self, key: str) -> None:
        await self.call("/v3/kv/deleterange", {"key": b64(key)})

    async def txn(
        self,
        compare: Sequence[Mapping[str, Any]],
        success: Sequence[Mapping[str, Any]],
        failure: Sequence[Mapping[str, Any]] = (),
    ) -> bool:
        """Run a transaction; True when every compare held (and ``success`` ran)."""
        body = {"compare": list(compare), "success": list(success), "failure": list(failure)}
        data = await self.call("/v3/kv/txn", body)
        return bool(data.get("succeeded", False))

    async def grant(self, ttl: float) -> int:
        """A new lease of ``ttl`` seconds (rounded up to whole seconds, at least 1)."""
        data = await self.call("/v3/lease/grant", {"TTL": str(max(1, int(-(-ttl // 1))))})
        return int(data["ID"])

    async def keepalive(self, lease: int) -> bool:
        """Renew ``lease``; False when it has already expired (its keys are gone)."""
        data = await self.call("/v3/lease/keepalive", {"ID": str(lease)})
        return int(data.get("result", {}).get("TTL", 0)) > 0

    async def revoke(self, lease: int) -> None:
        """End ``lease`` now, deleting its keys (an unknown lease is not an error)."""
        try:
            await self.call("/v3/lease/revoke", {"ID": str(lease)})
        except FleetError as exc:
            if "not found" not in exc.message:
                raise
