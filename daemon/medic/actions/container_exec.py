"""The ``container.exec`` action: run a command inside the target container.

It shares the lookup and the refusals of the other container actions
(:class:`medic.actions.container.ContainerAction`): never Medic's own container, never
one labelled ``medic.ignore=true``. The command is an argv list; target values fill
placeholders inside single items (:mod:`medic.actions.placeholders`: no option-like
values, no escape from a path) and never become shell text.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from medic.actions.base import ActionContext, ActionResult, actions, not_filled, unfilled_note
from medic.actions.container import ContainerAction, with_container
from medic.actions.placeholders import ALLOW_DASH, ALLOW_PATH, Allow, PlaceholderError, fill_argv
from medic.lazy import lazy_module
from medic.option_schemas import argv as argv_option
from medic.option_schemas import options_schema

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

MAX_OUTPUT = 16 * 1024


@dataclass(frozen=True)
class ExecOutcome:
    """How an exec'd command ended, with its output (16 KiB per stream at most)."""

    exit_code: int | None
    stdout: str
    stderr: str
    truncated: bool


def run_exec(api: Any, container_id: str, argv: list[str], user: str) -> ExecOutcome:
    """Run ``argv`` in the container and collect its output (blocking: runs in a thread)."""
    created = api.exec_create(container_id, argv, stdout=True, stderr=True, user=user)
    kept = (bytearray(), bytearray())
    truncated = False
    for chunks in api.exec_start(created["Id"], stream=True, demux=True):
        for index, chunk in enumerate(chunks):
            if chunk:
                room = MAX_OUTPUT - len(kept[index])
                kept[index].extend(chunk[: max(room, 0)])
                truncated = truncated or len(chunk) > room
    exit_code = api.exec_inspect(created["Id"]).get("ExitCode")
    out, err = (bytes(b).decode("utf-8", "replace") for b in kept)
    return ExecOutcome(exit_code, out, err, truncated)


@actions.register("container.exec")
class ExecAction(ContainerAction):
    """Run a command inside the target container; it succeeds when the command exits 0.

    ``argv`` is a list, run as is: no shell unless argv names one. ``{target}``,
    ``{policy}``, ``{incident}``, ``{host}`` and the probe's fields fill placeholders
    inside an item, never splitting it; a value that begins with ``-`` or leaves the
    directory of an item holding ``/`` is refused unless the step sets ``allow_dash`` or
    ``allow_path``. ``user`` runs it as another user. Output is kept
    up to 16 KiB per stream. The engine cannot kill an exec'd command: when the step
    times out Medic stops waiting, so give a command that may hang its own limit
    (``timeout 20 ...``).

    ```yaml
    version: 1
    policies:
      - name: nginx-unhealthy
        description: Ask nginx inside the proxy container to reload when it turns unhealthy.
        probe: {type: container, name: proxy, every: 30s}
        when: health == "unhealthy"
        remediate:
          - container.exec: {argv: [nginx, -s, reload], user: root, timeout: 30s}
        verify: {after: 1m}
        limits: {max: 2, per: 1h, cooldown: 10m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = with_container(
        options_schema(
            {
                "argv": argv_option("Program and arguments; {placeholders} fill single items."),
                "user": {"type": "string", "minLength": 1, "description": "User (name or uid)."},
                "allow_dash": ALLOW_DASH,
                "allow_path": ALLOW_PATH,
            },
            required=["argv"],
        )
    )
    verb = "run a command in"

    def argv(self, ctx: ActionContext) -> list[str]:
        """The argv with placeholders filled; PlaceholderError when a value is refused."""
        return fill_argv(self.options["argv"], ctx.variables(), Allow.of(self.options))

    def describe(self, ctx: ActionContext) -> str:
        user = self.options.get("user")
        as_user = f" as user {user}" if user else ""
        try:
            argv = self.argv(ctx)
        except PlaceholderError as exc:
            text = shlex.join(str(item) for item in self.options["argv"])
            return f"run {text} in container {self.name(ctx)}{as_user} {unfilled_note(exc)}"
        return f"run {shlex.join(argv)} in container {self.name(ctx)}{as_user}"

    async def act(
        self, container: Any, ctx: ActionContext, details: dict[str, Any]
    ) -> ActionResult:
        try:
            argv = self.argv(ctx)
        except PlaceholderError as exc:
            return not_filled(exc, details)
        details["argv"] = argv
        if container.status != "running":
            return ActionResult(
                False,
                f"container {self.name(ctx)} is {container.status}; exec needs it running",
                details,
            )
        api = container.client.api
        user = str(self.options.get("user", ""))
        outcome = await asyncio.to_thread(run_exec, api, container.id, argv, user)
        details.update(
            exit_code=outcome.exit_code,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            truncated=outcome.truncated,
        )
        if outcome.exit_code != 0:
            return ActionResult(
                False,
                f"{argv[0]} in container {self.name(ctx)} exited with code {outcome.exit_code}",
                details,
            )
        return ActionResult(True, f"ran {argv[0]} in container {self.name(ctx)}", details)
