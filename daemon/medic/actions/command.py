"""The ``command`` action: run a program (or, only when asked, shell text) to heal a target.

Target values reach the program as separate argv items or as ``MEDIC_*`` environment
variables, never as shell text, so a target named ``x; rm -rf /`` is just an odd name.
The program runs in its own process group under :func:`medic.proc.run_process`, so
at the step's timeout it and everything it forked are killed.
"""

from __future__ import annotations

import re
import shlex
import signal
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, ClassVar

from medic.actions.base import (
    Action,
    ActionContext,
    ActionResult,
    actions,
    not_filled,
    placeholders,
    unfilled_note,
)
from medic.actions.placeholders import ALLOW_DASH, ALLOW_PATH, Allow, PlaceholderError, fill_argv
from medic.durations import format_duration
from medic.option_schemas import argv, options_schema
from medic.program import SHELL, command_argv, command_text, program_mistake

if TYPE_CHECKING:
    from medic.proc import CompletedRun

# Per stream; enough for an error message, small enough for the audit log.
OUTPUT_LIMIT = 4096
SUMMARY_LIMIT = 200
# Set by Medic on every run; a policy's `env:` may not override them.
RESERVED_ENV = ("MEDIC_POLICY", "MEDIC_TARGET", "MEDIC_INCIDENT", "MEDIC_HOST")
# `{name}` not preceded by `$`: `${MEDIC_TARGET}` is shell syntax, not a placeholder.
_SHELL_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def medic_env(ctx: ActionContext) -> dict[str, str]:
    """The variables every run gets, whatever the mode."""
    return {
        "MEDIC_POLICY": ctx.policy,
        "MEDIC_TARGET": ctx.target,
        "MEDIC_INCIDENT": ctx.incident,
        "MEDIC_HOST": ctx.host,
    }


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:SUMMARY_LIMIT]
    return ""


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited {code}"


@actions.register("command")
class CommandAction(Action):
    """Run a program with arguments, or shell text when the policy asks for a shell.

    ``argv`` names the program and its arguments; each item may hold placeholders
    (``{target}``, ``{policy}``, ``{incident}``, ``{host}`` or any probe field such as
    ``{pids}``) and stays one argument however the value looks. A value that begins
    with ``-`` is refused (``allow_dash: true`` lets it through), and so is one that
    would leave the directory of an item holding ``/`` (``allow_path: true``); see
    docs/placeholders.md. ``shell`` runs text
    with ``/bin/sh -c``; placeholders are refused there, and the values come through
    the environment instead (``$MEDIC_TARGET``, ``$MEDIC_POLICY``, ``$MEDIC_INCIDENT``,
    ``$MEDIC_HOST``, set in both modes). The step succeeds when the exit code is in
    ``ok_exit_codes``; at its timeout the whole process group is killed.

    ```yaml
    version: 1
    policies:
      - name: app-down-restart
        description: Start myapp again when its process is gone.
        probe: {type: process, name: myapp, every: 10s}
        when: not running
        remediate:
          - command: {argv: [systemctl, start, myapp], timeout: 30s}
        verify: {after: 10s}
        limits: {max: 3, per: 1h, cooldown: 2m}
        escalate: {after_failures: 2, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "argv": argv(
                "Program and arguments; items may hold {target}-style "
                "placeholders, each item stays one argument."
            ),
            "shell": {
                "type": "string",
                "minLength": 1,
                "description": "Text for /bin/sh -c; no placeholders, use $MEDIC_TARGET etc.",
            },
            "env": {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                "additionalProperties": {"type": "string"},
                "description": "Extra environment variables for the program.",
            },
            "cwd": {"type": "string", "description": "Absolute working directory."},
            "ok_exit_codes": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0, "maximum": 255},
                "minItems": 1,
                "description": "Exit codes that count as success (default [0]).",
            },
            "allow_dash": ALLOW_DASH,
            "allow_path": ALLOW_PATH,
        },
    )
    default_timeout: ClassVar[float] = 60.0

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        mistake = program_mistake(options)
        if mistake == "both":
            problems.append(
                "give either argv (a program and its arguments) or shell (text for /bin/sh), "
                "not both; prefer argv"
            )
        elif mistake == "neither":
            problems.append("say what to run: add argv: [program, arg, ...] (or shell: text)")
        argv = options.get("argv")
        if isinstance(argv, list) and argv and isinstance(argv[0], str) and placeholders(argv[0]):
            problems.append(
                f"the program (argv[0] {argv[0]!r}) cannot contain placeholders; name the "
                "program literally and pass values like {target} as later arguments"
            )
        shell = options.get("shell")
        if isinstance(shell, str) and _SHELL_PLACEHOLDER.search(shell):
            problems.append(
                "placeholders are not allowed in shell text; pass values through the "
                "environment: $MEDIC_TARGET, $MEDIC_POLICY, $MEDIC_INCIDENT, $MEDIC_HOST"
            )
        for key in options.get("env") or {}:
            if key in RESERVED_ENV:
                problems.append(f"env {key} is set by medic on every run; choose another name")
        cwd = options.get("cwd")
        if isinstance(cwd, str) and not PurePosixPath(cwd).is_absolute():
            problems.append(f"cwd {cwd!r} must be an absolute path, like /srv/app")
        return problems

    @property
    def ok_exit_codes(self) -> Sequence[int]:
        codes: Sequence[int] = self.options.get("ok_exit_codes") or (0,)
        return codes

    def argv(self, ctx: ActionContext) -> list[str]:
        """What to execute; PlaceholderError when a value cannot be filled in."""
        if "shell" in self.options:
            return command_argv(self.options)
        return fill_argv(self.options["argv"], ctx.variables(), Allow.of(self.options))

    def describe(self, ctx: ActionContext) -> str:
        if "shell" in self.options:
            return f"{SHELL} -c {shlex.quote(self.options['shell'])}"
        try:
            return shlex.join(self.argv(ctx))
        except PlaceholderError as exc:
            return f"{shlex.join(self.options['argv'])} {unfilled_note(exc)}"

    async def run(self, ctx: ActionContext) -> ActionResult:
        try:
            argv = self.argv(ctx)
        except PlaceholderError as exc:
            return not_filled(exc, {"argv": list(self.options["argv"])})
        extra = self.options.get("env") or {}
        env = {**{str(k): str(v) for k, v in extra.items()}, **medic_env(ctx)}
        details: dict[str, Any] = self._base_details(argv)
        # Here, not at the top: `medic validate` loads the class, never runs it.
        from medic.proc import run_process

        try:
            done = await run_process(
                argv,
                timeout=ctx.timeout,
                env=env,
                cwd=self.options.get("cwd"),
                max_output=OUTPUT_LIMIT,
            )
        except OSError as exc:
            what = exc.filename or argv[0]
            reason = exc.strerror or str(exc)
            details["error"] = f"{reason}: {what}"
            return ActionResult(False, f"cannot start {argv[0]}: {reason}: {what}", details)
        details.update(self._run_details(done))
        return ActionResult(self._ok(done), self._summary(done, argv, ctx.timeout), details)

    def _base_details(self, argv: list[str]) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if "shell" in self.options:
            details["shell"] = self.options["shell"]
        else:
            details["argv"] = argv
        if self.options.get("cwd"):
            details["cwd"] = self.options["cwd"]
        if self.options.get("env"):
            # Names only: values may be credentials.
            details["env"] = sorted(self.options["env"])
        return details

    def _run_details(self, done: CompletedRun) -> dict[str, Any]:
        return {
            "exit_code": done.exit_code,
            "stdout": done.stdout,
            "stderr": done.stderr,
            "truncated": done.truncated,
            "timed_out": done.timed_out,
            "duration": round(done.duration, 3),
        }

    def _ok(self, done: CompletedRun) -> bool:
        return not done.timed_out and done.exit_code in self.ok_exit_codes

    def _summary(self, done: CompletedRun, argv: list[str], timeout: float) -> str:
        what = command_text(self.options, argv)
        what = what if len(what) <= SUMMARY_LIMIT else what[: SUMMARY_LIMIT - 3] + "..."
        if done.timed_out:
            return f"timed out after {format_duration(timeout)}, process group killed: {what}"
        if self._ok(done):
            return f"{_exit_text(done.exit_code)}: {what}"
        expected = ", ".join(str(c) for c in self.ok_exit_codes)
        text = f"{_exit_text(done.exit_code)} (expected {expected}): {what}"
        if reason := _first_line(done.stderr) or _first_line(done.stdout):
            text += f": {reason}"
        return text
