"""The ``deploy`` probe: how long ago the last deploy happened, from a deploy marker.

Made for "roll back if the error rate rose after a deploy": with named probes a policy
reads ``app.error_rate > 0.05 and deploy.since_deploy < 15m``. The marker is a file
(``path:``: its modification time; a symbolic link's own time, since a deploy swaps
the link) or a version field in an HTTP JSON body (``url:`` + ``field:``): the probe
remembers the last version it saw and when it changed.

It keeps them in the agent's state directory (:mod:`medic.probes.probestate`), so
``since_deploy`` survives a restart. The very first version read, with nothing kept
(a new probe, ``medic probe``), is the baseline: ``since_deploy`` is null until it
changes. A version that changed while the agent was down counts from the last time
the old one was read (the earliest the deploy can have been), so a long downtime never
looks like a fresh deploy.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.probestate import StateFile, state_file

if TYPE_CHECKING:
    import asyncio

    import aiohttp
else:
    asyncio = lazy_module("asyncio")
    aiohttp = lazy_module("aiohttp")

FIELDS = (
    Field("since_deploy", "number", "Seconds since the last deploy (null: none seen).", "seconds"),
    Field("deployed_at", "number", "When the last deploy happened, unix seconds."),
    Field("version", "string", "The version read from the URL (null for a file marker)."),
)
MAX_BODY = 1 << 20
# How stale the kept "last read" may get while nothing changes (fewer disk writes; a
# staler one only dates a deploy made while the agent was down earlier, never later).
SEEN_EVERY = 60.0


def pick(body: Any, field: str) -> Any:
    """The value at a dotted ``field`` of a JSON body (None when it is not there)."""
    value = body
    for key in field.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


@probes.register("deploy")
class DeployProbe(Probe):
    """Seconds since the last deploy, from a marker file's time or a version that changed.

    One target, ``deploy`` (or the name given).

    ```yaml
    version: 1
    policies:
      - name: rollback-after-bad-deploy
        probes:
          app: {type: http, url: "http://127.0.0.1:8080/health"}
          deploy: {type: deploy, url: "http://127.0.0.1:8080/version", field: version}
        when: app.status >= 500 and deploy.since_deploy < 15m
        remediate:
          - command: {argv: [/usr/local/bin/rollback], timeout: 5m}
        limits: {max: 1, per: 1h}
        escalate: {notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "path": {"type": "string", "pattern": "^/", "description": "A marker file."},
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "A JSON endpoint that reports the version.",
            },
            "field": {
                "type": "string",
                "pattern": r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
                "description": "The version's dotted key in the JSON body. Default version.",
            },
            "name": {
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9_.-]*$",
                "description": "The target's name. Default deploy.",
            },
        },
    )
    fields = FIELDS
    default_every = 30.0

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.path = options.get("path")
        self.url = options.get("url")
        self.field = str(options.get("field", "version"))
        self.name = str(options.get("name", "deploy"))
        self.now: Callable[[], float] = time.time
        self.version: str | None = None
        self.changed: float | None = None
        self.kept_seen: float | None = None  # when a kept version was last read, till reread
        self.state: StateFile | None = state_file("deploy", options) if self.url else None
        self._loaded = False
        self._saved: tuple[str | None, float | None, float] | None = None

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        if ("path" in options) == ("url" in options):
            return ["give either path: (a marker file) or url: (a version endpoint)"]
        if "field" in options and "url" not in options:
            return ["field: picks the version from url:'s body; a path: marker has none"]
        return []

    async def measure(self) -> Measurement:
        now = self.now()
        if self.path is not None:
            at = await asyncio.to_thread(_marker_time, str(self.path))
            version = None
        else:
            version = await self._version()
            self._load()
            self.seen(version, now)
            await self._keep(now)
            at = self.changed
        return {
            self.name: {
                "since_deploy": None if at is None else max(0.0, now - at),
                "deployed_at": at,
                "version": version,
            }
        }

    def seen(self, version: str | None, now: float) -> None:
        """Remember ``version``: a change from the last one read is a deploy at ``now``."""
        if version is None:
            return
        if self.version is not None and version != self.version:
            # First read after a restart: at the earliest, the old version's last read.
            last = self.kept_seen if self.kept_seen is not None else now
            self.changed = min(last, now)
        self.version = version
        self.kept_seen = None

    async def _keep(self, now: float) -> None:
        """Save the version and its change when they changed, the read time now and then."""
        if self.state is None:
            return
        last = self._saved
        same = last is not None and last[:2] == (self.version, self.changed)
        if same and last is not None and 0 <= now - last[2] < SEEN_EVERY:
            return
        kept = {"version": self.version, "changed": self.changed, "seen": now}
        await asyncio.to_thread(self.state.save, kept)
        self._saved = (self.version, self.changed, now)

    def _load(self) -> None:
        """On the first reading: the version, its change and last read kept before a restart."""
        if self._loaded:
            return
        self._loaded = True
        kept = self.state.load() if self.state is not None else None
        if not isinstance(kept, dict) or not isinstance(kept.get("version"), str):
            return
        self.version = kept["version"]
        self.changed = _time(kept.get("changed"))
        self.kept_seen = _time(kept.get("seen"))

    async def _version(self) -> str | None:
        limit = self.timeout
        timeout = aiohttp.ClientTimeout(total=limit)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(str(self.url)) as response,
            ):
                if response.status >= 400:
                    raise ProbeError(f"{self.url} answered HTTP {response.status}")
                raw = await response.content.read(MAX_BODY)
        except aiohttp.ClientError as exc:
            raise ProbeError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ProbeError(f"{self.url} did not answer JSON: {exc}") from exc
        value = pick(body, self.field)
        if value is None or isinstance(value, Mapping | list):
            raise ProbeError(f"{self.url}: no version at {self.field!r} in its JSON body")
        return str(value)


def _time(value: Any) -> float | None:
    """A kept unix time, or None when it is not one."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _marker_time(path: str) -> float | None:
    """The marker's modification time (a link's own); None when there is no marker."""
    try:
        return os.lstat(path).st_mtime
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ProbeError(f"cannot read the deploy marker {path}: {exc.strerror}") from exc
