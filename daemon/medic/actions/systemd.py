"""systemd actions: restart, start, stop, reload or reset-failed one unit.

One action per systemctl verb (``systemd.restart``, ...), as with the container
actions: a step then reads like the runbook line it replaces (``systemctl restart
nginx`` becomes ``systemd.restart``), each has only the options that make sense for it
(``or_restart`` exists for reload alone), and the audit log's ``action`` column says
what was done without digging into options.

Each acts on the unit named by the target (what the ``systemd.unit`` probe yields) or
by ``unit:``, which may hold placeholders (``unit: "{target}"`` is the default) so a
policy on another probe can restart a service. The unit name reaches ``systemctl`` as
one argument after ``--``; it must be a plain unit name (no glob), and Medic refuses to
act on the unit it runs in. State is read before and after, for the audit log.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from medic.actions.base import Action, ActionContext, ActionResult, actions, placeholders
from medic.actions.placeholders import Allow, fill_item
from medic.drivers.systemd import UNIT_NAME, canonical, is_glob, show, systemctl
from medic.durations import format_duration
from medic.errors import ActionError, ProbeError
from medic.option_schemas import options_schema

_UNIT_OPTION = {
    "type": "string",
    "minLength": 1,
    "description": 'Unit to act on; placeholders allowed (default "{target}").',
}
_SCHEMA: dict[str, Any] = options_schema(
    {"unit": _UNIT_OPTION},
)
# Time kept back from the step's timeout for reading the state after systemctl ends:
# this share of the timeout, at most AFTER_MAX seconds.
AFTER_SHARE, AFTER_MAX = 0.25, 3.0
SUMMARY_LIMIT = 200


def own_unit() -> str | None:
    """The unit Medic runs in, from its cgroup (``/system.slice/medic.service``)."""
    try:
        text = Path("/proc/self/cgroup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        name = path.rstrip("/").rsplit("/", 1)[-1]
        if name.endswith((".service", ".scope")):
            return name
    return None


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:SUMMARY_LIMIT]


class UnitAction(Action):
    """What every unit action shares: name the unit, refuse, run systemctl, report."""

    operation: ClassVar[str]  # the systemctl verb
    done: ClassVar[str]  # past tense, for summaries
    # ActiveState values after which the operation did not do its job.
    bad_states: ClassVar[frozenset[str]] = frozenset({"failed"})
    schema: ClassVar[dict[str, Any]] = _SCHEMA
    default_timeout: ClassVar[float] = 90.0

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        unit = str(options.get("unit", "{target}"))
        literal = unit
        for name in placeholders(unit):
            literal = literal.replace("{" + name + "}", "x")
        if is_glob(literal) or literal.startswith("-") or not UNIT_NAME.fullmatch(literal):
            return [
                f"unit {unit!r} is not one unit name: use letters, digits and :_.@-\\ "
                "(no globs, not starting with '-'), or a placeholder such as {target}"
            ]
        return []

    def verb_argv(self) -> list[str]:
        return [self.operation]

    def unit(self, ctx: ActionContext) -> str:
        """The unit this step acts on; ActionError when it is not one unit name."""
        template = str(self.options.get("unit", "{target}"))
        # A PlaceholderError (an ActionError) says which value was refused and why.
        name = canonical(fill_item(template, ctx.variables(), Allow(), "unit"))
        if is_glob(name) or name.startswith("-") or not UNIT_NAME.fullmatch(name):
            raise ActionError(
                f"{name!r} is not a unit name",
                hint="set unit: in the step when the probe's targets are not systemd units",
            )
        return name

    def describe(self, ctx: ActionContext) -> str:
        try:
            unit = self.unit(ctx)
        except ActionError as exc:
            return f"systemctl {' '.join(self.verb_argv())} (no unit: {exc.message})"
        return f"systemctl {' '.join(self.verb_argv())} {unit}"

    async def run(self, ctx: ActionContext) -> ActionResult:
        deadline = time.monotonic() + ctx.timeout
        unit = self.unit(ctx)
        details: dict[str, Any] = {"unit": unit}
        if unit == own_unit():
            return ActionResult(
                False, f"refused to act on unit {unit}: it is the unit Medic runs in", details
            )
        before = await self._state(unit, deadline, details, "before")
        if before.get("LoadState") == "not-found":
            return ActionResult(False, f"unit {unit} does not exist", details)
        keep = min(AFTER_MAX, ctx.timeout * AFTER_SHARE)
        budget = max(0.5, deadline - time.monotonic() - keep)
        run = await systemctl([*self.verb_argv(), "--", unit], budget)
        details["exit_code"] = run.exit_code
        if run.stderr.strip():
            details["stderr"] = run.stderr.strip()[:1000]
        if run.timed_out:
            details["timed_out"] = True
            waited = format_duration(round(budget, 1))
            return ActionResult(
                False,
                f"systemctl {self.operation} {unit} did not finish within {waited}",
                details,
            )
        after = await self._state(unit, deadline, details, "after")
        state = after.get("ActiveState", "unknown")
        if run.exit_code != 0:
            reason = _first_line(run.stderr) or f"exit code {run.exit_code}"
            return ActionResult(
                False, f"systemctl {self.operation} {unit} failed: {reason}", details
            )
        if state in self.bad_states:
            result = after.get("Result") or "unknown"
            return ActionResult(
                False, f"unit {unit} is {state} (result {result}) after {self.operation}", details
            )
        return ActionResult(True, f"{self.done} unit {unit} (now {state})", details)

    @staticmethod
    async def _state(
        unit: str, deadline: float, details: dict[str, Any], when: str
    ) -> dict[str, str]:
        """The unit's properties, recorded in ``details`` as ``<when>`` (best effort)."""
        timeout = min(5.0, max(0.5, deadline - time.monotonic()))
        try:
            found = await show([unit], timeout)
        except ProbeError as exc:
            if when == "before":
                raise ActionError(exc.message, hint=exc.hint) from None
            details[f"{when}_error"] = exc.message
            return {}
        props = found[0] if found else {}
        details[when] = {
            "active_state": props.get("ActiveState"),
            "sub_state": props.get("SubState"),
            "main_pid": int(props["MainPID"]) if props.get("MainPID", "").isdigit() else None,
            "restarts": int(props["NRestarts"]) if props.get("NRestarts", "").isdigit() else None,
        }
        return props


@actions.register("systemd.restart")
class RestartAction(UnitAction):
    """Restart a unit (``systemctl restart``), waiting until systemd says it started.

    ```yaml
    version: 1
    policies:
      - name: nginx-memory-leak
        description: Restart nginx when its master process holds more than 1 GiB.
        probe: {type: process, name: nginx, every: 30s}
        when: rss_bytes > 1GiB
        for: 5m
        remediate:
          - systemd.restart: {unit: nginx, timeout: 60s}
        verify: {after: 1m}
        limits: {max: 3, per: 1h, cooldown: 5m}
    ```
    """

    operation = "restart"
    done = "restarted"


@actions.register("systemd.start")
class StartAction(UnitAction):
    """Start a unit (``systemctl start``); a unit that runs already is left alone.

    ```yaml
    version: 1
    policies:
      - name: worker-stopped
        description: Start the worker again when it is not running.
        probe: {type: systemd.unit, unit: worker, every: 30s}
        when: active_state in ["inactive", "failed"]
        remediate:
          - systemd.start: {timeout: 60s}
        verify: {after: 10s}
        limits: {max: 3, per: 1h, cooldown: 2m}
    ```
    """

    operation = "start"
    done = "started"


@actions.register("systemd.stop")
class StopAction(UnitAction):
    """Stop a unit (``systemctl stop``), waiting until it has stopped.

    ```yaml
    version: 1
    policies:
      - name: batch-runaway
        description: Stop the batch unit when it has held 4 GiB for ten minutes.
        probe: {type: systemd.unit, unit: nightly-batch, every: 30s}
        when: memory_bytes > 4GiB
        for: 10m
        remediate:
          - systemd.stop: {timeout: 2m}
        limits: {max: 1, per: 1d}
    ```
    """

    operation = "stop"
    done = "stopped"
    bad_states = frozenset({"active", "activating", "reloading", "deactivating"})


@actions.register("systemd.reload")
class ReloadAction(UnitAction):
    """Reload a unit's configuration (``systemctl reload``), or restart it with ``or_restart``.

    ```yaml
    version: 1
    policies:
      - name: proxy-stale-config
        description: Reload the proxy when it has run for a week without a reload.
        probe: {type: systemd.unit, unit: haproxy, every: 1h}
        when: active and state_age > 7d
        remediate:
          - systemd.reload: {or_restart: true, timeout: 1m}
        verify: {after: 30s}
        limits: {max: 1, per: 1d}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "unit": _UNIT_OPTION,
            "or_restart": {
                "type": "boolean",
                "description": "Restart units that cannot reload (reload-or-restart).",
            },
        },
    )
    operation = "reload"
    done = "reloaded"

    def verb_argv(self) -> list[str]:
        return ["reload-or-restart" if self.options.get("or_restart") else "reload"]


@actions.register("systemd.reset_failed")
class ResetFailedAction(UnitAction):
    """Forget a unit's failed state and start-rate counter (``systemctl reset-failed``).

    Put it before ``systemd.restart`` for a unit that hit its ``StartLimitBurst=``:
    systemd refuses to start such a unit (result ``start-limit-hit``) until its
    failed state is reset.

    ```yaml
    version: 1
    policies:
      - name: app-start-limit-hit
        description: Give the app another start after systemd gave up restarting it.
        probe: {type: systemd.unit, unit: app, every: 30s}
        when: active_state == "failed" and restarts > 0
        remediate:
          - systemd.reset_failed: {}
          - systemd.restart: {timeout: 60s}
        verify: {after: 30s}
        limits: {max: 2, per: 6h, cooldown: 30m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    operation = "reset-failed"
    done = "reset the failed state of"
    bad_states = frozenset({"failed"})
