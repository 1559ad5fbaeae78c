"""Container actions: restart, start, stop or kill the target container (or a named one).

Every one acts on the container named by the target (``ctx.target``, as the container
probes name their targets), or on the one its ``container:`` option names (the database
pool is exhausted: restart the backend). Under a probe whose targets are not containers,
``container:`` is required (the loader says so with the file and line). Every one looks
at that container again first: it
refuses to act on the container Medic itself runs in, and on a container labelled
``medic.ignore=true`` (labels may have changed since the measurement). A target that
is not a container name (Docker's ``[A-Za-z0-9][A-Za-z0-9_.-]*``) is refused before
the engine is asked, so it cannot become another path of the engine's API. The engine is
reached through :mod:`medic.drivers.docker`; its blocking calls run in threads.
``container.exec`` lives in :mod:`medic.actions.container_exec` on the same base.
"""

from __future__ import annotations

import math
import re
from abc import abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic.actions.base import Action, ActionContext, ActionResult, actions
from medic.actions.signal import signal_schema
from medic.drivers.docker import (
    HINT,
    IGNORE_LABEL,
    engine_errors,
    is_own_container,
    is_true,
    shared_client,
    unreachable,
)
from medic.durations import format_duration, parse_duration
from medic.errors import ActionError
from medic.lazy import lazy_module
from medic.option_schemas import duration, options_schema

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

SIGNALS = ("HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "WINCH")
# The names Docker gives containers; the SDK puts the name into a URL path unescaped '/'.
CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
CONTAINER_OPTION: dict[str, Any] = {
    "type": "string",
    "pattern": CONTAINER_NAME.pattern,
    "maxLength": 128,
    "description": "Act on this container instead of the target (a container name: "
    "letters, digits and _.-). Required under a probe whose targets are not containers.",
}
# Probe families whose targets are container names (`container`, `container.logs`, ...).
CONTAINER_PROBE_FAMILY = "container"
_STOP_TIMEOUT = duration("Seconds the container gets to stop before it is killed.", "10s")


def refusal(container: Any, target: str) -> str | None:
    """Why Medic must not touch this container, or None."""
    if is_own_container(str(container.id)):
        return f"refused to act on container {target}: it is the container Medic runs in"
    if is_true((container.labels or {}).get(IGNORE_LABEL)):
        return f"refused to act on container {target}: it is labelled {IGNORE_LABEL}=true"
    return None


def signal_name(value: str | int) -> str:
    """``KILL``, ``SIGKILL`` -> ``SIGKILL``; numbers stay numbers."""
    if isinstance(value, int):
        return str(value)
    return "SIG" + value.upper().removeprefix("SIG")


def with_container(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with the ``container:`` option every container action takes."""
    return {**schema, "properties": {**schema["properties"], "container": CONTAINER_OPTION}}


def container_named(options: Mapping[str, Any], ctx: ActionContext) -> str:
    """The container a step acts on: its ``container:`` option, else the target."""
    return str(options.get("container") or ctx.target)


def targets_containers(probe_type: str) -> bool:
    """Whether a probe type's targets are container names (the ``container`` family)."""
    return probe_type == CONTAINER_PROBE_FAMILY or probe_type.startswith(
        CONTAINER_PROBE_FAMILY + "."
    )


class ContainerAction(Action):
    """What every container action shares: find the container, refuse, act, report."""

    verb: ClassVar[str] = "act on"

    @classmethod
    def validate_under(cls, options: Mapping[str, Any], probe_type: str) -> list[str]:
        if "container" in options or targets_containers(probe_type):
            return []
        return [
            f"probe {probe_type!r} does not name containers, so there is no container to "
            f"{cls.verb}; add container: <name> to the step, or use a container probe"
        ]

    def name(self, ctx: ActionContext) -> str:
        return container_named(self.options, ctx)

    async def run(self, ctx: ActionContext) -> ActionResult:
        from docker.errors import APIError, NotFound

        name = self.name(ctx)
        if not CONTAINER_NAME.fullmatch(name):
            return ActionResult(
                False,
                f"refused: {name[:60]!r} is not a container name (letters, digits "
                "and _.- only); point the policy at a container probe's targets, or set "
                "container: <name> on the step",
            )
        try:
            client = await shared_client()
            container = await asyncio.to_thread(client.containers.get, name)
        except NotFound:
            return ActionResult(False, f"no container named {name}")
        except engine_errors() as exc:
            raise ActionError(unreachable(exc), hint=HINT) from exc
        # The engine also resolves id prefixes: insist on the name.
        if container.name != name:
            return ActionResult(False, f"no container named {name}")
        details: dict[str, Any] = {"container_id": container.short_id, "container": name}
        if (why := refusal(container, name)) is not None:
            return ActionResult(False, why, details)
        details["status_before"] = container.status
        try:
            return await self.act(container, ctx, details)
        except NotFound:
            return ActionResult(False, f"container {name} is gone", details)
        except APIError as exc:
            reason = exc.explanation or str(exc)
            return ActionResult(False, f"could not {self.verb} container {name}: {reason}", details)
        except engine_errors() as exc:
            raise ActionError(unreachable(exc), hint=HINT) from exc

    @abstractmethod
    async def act(
        self, container: Any, ctx: ActionContext, details: dict[str, Any]
    ) -> ActionResult:
        """Do the one thing this action does; engine errors are reported by :meth:`run`."""

    @staticmethod
    async def settled(container: Any, details: dict[str, Any]) -> str:
        """Re-read the container's state into ``details`` and return its status."""
        await asyncio.to_thread(container.reload)
        details["status_after"] = container.status
        return str(container.status)


class StopTimeoutMixin:
    """The ``stop_timeout`` option, shared by restart and stop: its schema, its value,
    and the dry-run description that names it.

    The step's own ``timeout`` should be longer, or Medic stops waiting while the engine
    is still stopping the container (the step is then recorded as timed out).
    """

    options: Mapping[str, Any]
    verb: ClassVar[str]
    schema: ClassVar[dict[str, Any]] = with_container(
        options_schema(
            {"stop_timeout": _STOP_TIMEOUT},
        )
    )

    @property
    def stop_timeout(self) -> float:
        return parse_duration(self.options.get("stop_timeout", 10))

    @property
    def engine_stop_timeout(self) -> int:
        return math.ceil(self.stop_timeout)

    def name(self, ctx: ActionContext) -> str:
        return container_named(self.options, ctx)

    def describe(self, ctx: ActionContext) -> str:
        stop = format_duration(self.stop_timeout)
        return f"{self.verb} container {self.name(ctx)} (stop timeout {stop})"


@actions.register("container.restart")
class RestartAction(StopTimeoutMixin, ContainerAction):
    """Restart the target container (stop, with ``stop_timeout`` to exit, then start).

    ```yaml
    version: 1
    policies:
      - name: web-memory-leak
        description: Restart the web container when it holds more than 90% of its limit.
        probe: {type: container, name: web, every: 15s}
        when: memory_percent > 90
        for: 2m
        remediate:
          - container.restart: {stop_timeout: 10, timeout: 60s}
        verify: {after: 30s}
        limits: {max: 3, per: 1h, cooldown: 5m}
    ```
    """

    verb = "restart"

    async def act(
        self, container: Any, ctx: ActionContext, details: dict[str, Any]
    ) -> ActionResult:
        await asyncio.to_thread(container.restart, timeout=self.engine_stop_timeout)
        status = await self.settled(container, details)
        details["started_at"] = container.attrs.get("State", {}).get("StartedAt")
        if status != "running":
            return ActionResult(
                False, f"container {self.name(ctx)} is {status} after restart", details
            )
        return ActionResult(True, f"restarted container {self.name(ctx)}", details)


@actions.register("container.start")
class StartAction(ContainerAction):
    """Start the target container when it is not running (a running one is left alone).

    ```yaml
    version: 1
    policies:
      - name: worker-stopped
        description: Start any opted-in container that exited.
        probe: {type: container, opt_in_label: true, every: 30s}
        when: not running
        remediate:
          - container.start: {timeout: 30s}
        verify: {after: 10s}
        limits: {max: 3, per: 1h, cooldown: 2m, max_targets: 2}
    ```
    """

    schema: ClassVar[dict[str, Any]] = with_container(options_schema({}))
    verb = "start"

    def describe(self, ctx: ActionContext) -> str:
        return f"start container {self.name(ctx)}"

    async def act(
        self, container: Any, ctx: ActionContext, details: dict[str, Any]
    ) -> ActionResult:
        if container.status == "running":
            details["status_after"] = "running"
            return ActionResult(True, f"container {self.name(ctx)} was already running", details)
        await asyncio.to_thread(container.start)
        status = await self.settled(container, details)
        if status != "running":
            return ActionResult(
                False, f"container {self.name(ctx)} is {status} after start", details
            )
        return ActionResult(True, f"started container {self.name(ctx)}", details)


@actions.register("container.stop")
class StopAction(StopTimeoutMixin, ContainerAction):
    """Stop the target container: SIGTERM (or its stop signal), SIGKILL after ``stop_timeout``.

    ```yaml
    version: 1
    policies:
      - name: batch-runaway
        description: Stop the batch container when it has used all its CPU for 10 minutes.
        probe: {type: container, labels: {app: batch}, every: 30s}
        when: cpu_percent > 95
        for: 10m
        remediate:
          - container.stop: {stop_timeout: 30s, timeout: 1m}
        limits: {max: 1, per: 1d}
    ```
    """

    verb = "stop"

    async def act(
        self, container: Any, ctx: ActionContext, details: dict[str, Any]
    ) -> ActionResult:
        await asyncio.to_thread(container.stop, timeout=self.engine_stop_timeout)
        status = await self.settled(container, details)
        if status == "running":
            return ActionResult(False, f"container {self.name(ctx)} is still running", details)
        return ActionResult(True, f"stopped container {self.name(ctx)}", details)


@actions.register("container.kill")
class KillAction(ContainerAction):
    """Send a signal to the target container's main process (default KILL).

    ```yaml
    version: 1
    policies:
      - name: proxy-reload-on-errors
        description: Ask the proxy to reload its configuration when upstream errors pile up.
        probe: {type: container.logs, name: proxy, pattern: "upstream timed out", window: 5m}
        when: match_count > 50
        remediate:
          - container.kill: {signal: HUP, timeout: 10s}
        verify: {after: 5m}
        limits: {max: 2, per: 1h, cooldown: 10m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = with_container(
        options_schema(
            {
                "signal": signal_schema(
                    SIGNALS, f"{', '.join(SIGNALS)} (default KILL), or a number."
                ),
            },
        )
    )
    verb = "kill"

    @property
    def signal(self) -> str:
        return signal_name(self.options.get("signal", "KILL"))

    def describe(self, ctx: ActionContext) -> str:
        return f"send {self.signal} to container {self.name(ctx)}"

    async def act(
        self, container: Any, ctx: ActionContext, details: dict[str, Any]
    ) -> ActionResult:
        details["signal"] = self.signal
        await asyncio.to_thread(container.kill, signal=self.signal)
        await self.settled(container, details)
        return ActionResult(True, f"sent {self.signal} to container {self.name(ctx)}", details)
