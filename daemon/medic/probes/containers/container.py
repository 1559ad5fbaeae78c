"""The ``container`` probe: state, health and resource use of Docker containers.

A measurement lists the selected containers once, then inspects them, concurrently in
threads. A stats sample (memory, CPU, pids) is read per running container only when the
policy reads one of :data:`USAGE_FIELDS` (in ``when``, ``clear_when`` or a step's
placeholders): on some engines a stats read waits for the next one-second sample, and
a policy about ``health`` or ``running`` must not wait for figures it never looks at.
``watch()`` follows the engine's event stream so a container that dies, is OOM-killed
or turns unhealthy is evaluated at once; polling stays the source of truth for
anything the stream missed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.clock import parse_iso
from medic.deadline import within
from medic.drivers.docker import (
    HINT,
    STATE_EVENTS,
    EventFollower,
    engine_errors,
    open_container_events,
    shared_client,
    unreachable,
)
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.logsetup import get_logger
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.containers.container_select import (
    SELECTION_PROPERTIES,
    Selection,
    select_containers,
    validate_selection,
)

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

log = get_logger(__name__)

# Engine events that change what a measurement would say.
WATCHED_ACTIONS = frozenset(STATE_EVENTS)
# Event attributes that are not labels (Docker merges labels into the attributes).
_EVENT_ATTRIBUTES = frozenset({"name", "image", "exitCode", "signal", "execID"})
STATS_CONCURRENCY = 8
# The fields only a stats read yields; without them in the policy no stats are read.
USAGE_FIELDS = ("memory_bytes", "memory_limit_bytes", "memory_percent", "cpu_percent", "pids")
# How long a measurement waits for a stats read once it has earlier figures to fall back on.
STATS_WAIT = 0.25


def _retrieve(task: asyncio.Task[Any]) -> None:
    """A background stats read nobody awaits any more: its error is logged, not lost."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("container.stats_read_failed", error=str(task.exception()))


def cpu_percent(
    total: int, system: int, previous: tuple[int, int] | None, cpus: int
) -> float | None:
    """Share of the host's CPUs used between two samples, 100 per CPU (like ``docker stats``)."""
    if previous is None:
        return None
    cpu_delta, system_delta = total - previous[0], system - previous[1]
    if cpu_delta < 0 or system_delta <= 0:  # restarted container, or no time passed
        return None
    return round(cpu_delta / system_delta * max(cpus, 1) * 100.0, 2)


def memory_used(stats: Mapping[str, Any]) -> int | None:
    """Bytes in use without the reclaimable page cache (what ``docker stats`` shows)."""
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage")
    if usage is None:
        return None
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return int(usage - cache) if cache < usage else int(usage)


@probes.register("container")
class ContainerProbe(Probe):
    """State, health and memory/CPU use of Docker containers, reacting to engine events.

    Select containers by ``name``, ``id``, ``labels``, ``compose`` project/service, or
    ``opt_in_label`` (every container labelled ``medic.enable=true``). Stopped
    containers stay targets (``all: true``) so a dead one can be started again;
    containers labelled ``medic.ignore=true`` and Medic's own container never are.
    Memory, CPU and pids figures are read only when the policy names one of them (in
    ``when``, ``clear_when`` or a step's placeholders); otherwise they stay null and a
    measurement costs one inspect per container.

    ```yaml
    version: 1
    policies:
      - name: web-down
        description: Start the web container again when it stopped.
        probe: {type: container, name: web, every: 30s}
        when: not running
        remediate:
          - container.start: {timeout: 30s}
        verify: {after: 10s}
        limits: {max: 3, per: 1h, cooldown: 1m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        SELECTION_PROPERTIES,
    )
    fields: ClassVar[tuple[Field, ...]] = (
        Field("running", "boolean", "The container is running."),
        Field("status", "string", "created, running, paused, restarting, exited or dead."),
        Field("health", "string", "healthy, unhealthy, starting, or none without HEALTHCHECK."),
        Field("exit_code", "number", "Exit code of the last run (0 while running)."),
        Field("oom_killed", "boolean", "The last run ended because it ran out of memory."),
        Field("restart_count", "number", "Restarts done by the engine's restart policy."),
        Field("uptime", "number", "Seconds since it started; null when not running.", "s"),
        Field("memory_bytes", "number", "Memory in use, page cache excluded.", "bytes"),
        Field(
            "memory_limit_bytes", "number", "Its memory limit (the host's memory if none).", "bytes"
        ),
        Field("memory_percent", "number", "memory_bytes as a share of the limit.", "%"),
        Field("cpu_percent", "number", "CPU since the last run, 100 per core; null at first.", "%"),
        Field("pids", "number", "Processes and threads in the container."),
        Field("image", "string", "The image it was created from."),
        Field("id", "string", "Short container id (12 characters)."),
    )
    default_every = 15.0
    default_timeout = 10.0
    watches = True

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.selection = Selection.from_options(options)
        self._cpu: dict[str, tuple[int, int]] = {}
        self._followers: set[EventFollower] = set()
        # The last usage figures per container, and the stats read under way for it.
        self._usage: dict[str, dict[str, Any]] = {}
        self._reads: dict[str, asyncio.Task[dict[str, Any]]] = {}

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        return validate_selection(options)

    async def measure(self) -> Measurement:
        try:
            client = await shared_client()
            summaries = await select_containers(client, self.selection)
        except engine_errors() as exc:
            raise ProbeError(unreachable(exc), hint=HINT) from exc
        limit = asyncio.Semaphore(STATS_CONCURRENCY)
        results = await asyncio.gather(
            *(self._measure_one(client, s["Id"], limit) for s in summaries)
        )
        seen = {s["Id"] for s in summaries}
        self._cpu = {cid: sample for cid, sample in self._cpu.items() if cid in seen}
        self._usage = {r: u for r, u in self._usage.items() if r.split("@", 1)[0] in seen}
        return {name: fields for name, fields in results if name is not None}

    async def _measure_one(
        self, client: Any, container_id: str, limit: asyncio.Semaphore
    ) -> tuple[str | None, dict[str, Any]]:
        from docker.errors import APIError, NotFound

        try:
            info = await asyncio.to_thread(client.api.inspect_container, container_id)
        except NotFound:  # removed since the listing: no longer a target
            return None, {}
        except APIError as exc:  # one odd container must not blind the whole policy
            log.warning("container.inspect_failed", container=container_id[:12], error=str(exc))
            return None, {}
        except engine_errors() as exc:
            raise ProbeError(unreachable(exc), hint=HINT) from exc
        fields = self._state_fields(info)
        if fields["running"] and self.reads(*USAGE_FIELDS):
            configured = (info.get("HostConfig") or {}).get("Memory") or None
            # Figures stand in only within one run: never a pre-restart 95 % after a restart.
            run = f"{container_id}@{(info.get('State') or {}).get('StartedAt', '')}"
            fields.update(await self._usage_now(client, run, container_id, configured, limit))
        else:
            self._cpu.pop(container_id, None)
        return str(info.get("Name", "")).lstrip("/"), fields

    async def _usage_now(
        self,
        client: Any,
        run: str,
        container_id: str,
        configured: int | None,
        limit: asyncio.Semaphore,
    ) -> dict[str, Any]:
        """Fresh usage figures, or, once there are some, the last ones when dockerd is slow.

        A stats read can wait up to a second for the engine's next sample. A measurement
        an event triggered (a sibling died) must not wait for it: after STATS_WAIT the
        previous figures stand in and the read finishes in the background for next time.
        """
        read = self._reads.get(run)
        if read is None or read.done():
            read = asyncio.ensure_future(
                self._read_usage(client, run, container_id, configured, limit)
            )
            read.add_done_callback(_retrieve)
            self._reads = {k: t for k, t in self._reads.items() if not t.done()}
            self._reads[run] = read
        last = self._usage.get(run)
        if last is None:
            return await asyncio.shield(read)
        try:
            return await within(asyncio.shield(read), STATS_WAIT)
        except TimeoutError:
            return last

    async def _read_usage(
        self,
        client: Any,
        run: str,
        container_id: str,
        configured: int | None,
        limit: asyncio.Semaphore,
    ) -> dict[str, Any]:
        async with limit:
            stats = await self._stats(client, container_id)
        usage = self._usage_fields(container_id, stats, configured)
        if stats:
            self._usage = {k: u for k, u in self._usage.items() if not k.startswith(container_id)}
            self._usage[run] = usage
        return usage

    @staticmethod
    def _state_fields(info: Mapping[str, Any]) -> dict[str, Any]:
        state = info.get("State") or {}
        running = bool(state.get("Running"))
        uptime = None
        if running and state.get("StartedAt"):
            uptime = round(max(0.0, time.time() - parse_iso(state["StartedAt"])), 3)
        return {
            "running": running,
            "status": state.get("Status", "unknown"),
            "health": (state.get("Health") or {}).get("Status", "none"),
            "exit_code": state.get("ExitCode"),
            "oom_killed": bool(state.get("OOMKilled")),
            "restart_count": info.get("RestartCount", 0),
            "uptime": uptime,
            "memory_bytes": None,
            "memory_limit_bytes": None,
            "memory_percent": None,
            "cpu_percent": None,
            "pids": None,
            "image": (info.get("Config") or {}).get("Image"),
            "id": str(info.get("Id", ""))[:12],
        }

    @staticmethod
    async def _stats(client: Any, container_id: str) -> Mapping[str, Any]:
        """One stats sample; empty when the container stopped meanwhile."""
        from docker.errors import APIError
        from docker.utils import version_lt

        api = client.api
        # One-shot (API 1.41+) answers at once instead of waiting for a second sample.
        one_shot = None if version_lt(api.api_version, "1.41") else True
        try:
            result: Mapping[str, Any] = await asyncio.to_thread(
                api.stats, container_id, stream=False, one_shot=one_shot
            )
        except APIError as exc:  # gone or being removed meanwhile: no figures this time
            log.debug("container.stats_failed", container=container_id[:12], error=str(exc))
            return {}
        except engine_errors() as exc:
            raise ProbeError(unreachable(exc), hint=HINT) from exc
        return result

    def _usage_fields(
        self, container_id: str, stats: Mapping[str, Any], configured: int | None
    ) -> dict[str, Any]:
        """Usage from one stats sample; the configured limit wins over the sampled one."""
        out: dict[str, Any] = {}
        used = memory_used(stats)
        limit = configured or (stats.get("memory_stats") or {}).get("limit")
        out["memory_bytes"] = used
        out["memory_limit_bytes"] = limit
        if used is not None and limit:
            out["memory_percent"] = round(used / limit * 100.0, 2)
        out["pids"] = (stats.get("pids_stats") or {}).get("current")
        cpu = stats.get("cpu_stats") or {}
        total = (cpu.get("cpu_usage") or {}).get("total_usage")
        system = cpu.get("system_cpu_usage")
        if total is None or system is None:
            return out
        cpus = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
        pre = stats.get("precpu_stats") or {}
        pre_total = (pre.get("cpu_usage") or {}).get("total_usage")
        pre_system = pre.get("system_cpu_usage")
        previous = self._cpu.get(container_id)
        if pre_system and pre_total is not None:  # a two-sample read carries its own
            previous = (pre_total, pre_system)
        out["cpu_percent"] = cpu_percent(total, system, previous, cpus)
        self._cpu[container_id] = (total, system)
        return out

    def wants(self, event: Mapping[str, Any]) -> str | None:
        """The target an engine event is about, when it matters to this probe."""
        action = str(event.get("Action") or event.get("status") or "")
        if action.split(":", 1)[0].strip() not in WATCHED_ACTIONS:
            return None
        actor = event.get("Actor") or {}
        attributes: Mapping[str, str] = actor.get("Attributes") or {}
        name = attributes.get("name")
        container_id = str(actor.get("ID") or event.get("id") or "")
        labels = {k: v for k, v in attributes.items() if k not in _EVENT_ATTRIBUTES}
        if not name or not self.selection.matches(name, container_id, labels):
            return None
        return name

    async def watch(self) -> AsyncIterator[str | None]:
        follower = EventFollower(open_container_events)
        self._followers.add(follower)
        try:
            async for event in follower.events():
                if event is None:
                    yield None
                    continue
                target = self.wants(event)
                if target is not None:
                    yield target
        finally:
            self._followers.discard(follower)
            await follower.aclose()

    async def close(self) -> None:
        for read in self._reads.values():
            read.cancel()
        followers = list(self._followers)
        self._followers.clear()
        await asyncio.gather(*(f.aclose() for f in followers))


__all__ = ["ContainerProbe", "cpu_percent", "memory_used"]
