"""The ``command`` probe: run a check program the Nagios way.

Thousands of checks already exist as Nagios/Icinga/Sensu plugins; this probe runs any
of them unchanged. The exit code is the verdict, the first line of output the text,
and the perfdata after ``|`` becomes fields a condition can name (see
:mod:`medic.probes.commands.nagios` for the format and the naming rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from medic.durations import format_duration
from medic.errors import ProbeError
from medic.option_schemas import argv, options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.program import command_argv, command_text, program_mistake

FIELDS = (
    Field("status", "string", "ok, warning, critical or unknown (from the exit code)."),
    Field("exit_code", "number", "The check's exit code (null when it timed out)."),
    Field("ok", "boolean", "The check exited 0."),
    Field("timed_out", "boolean", "The check was killed at the probe's timeout."),
    Field("output", "string", "First line of output, before any '|'."),
    Field("long_output", "string", "The following lines, before any '|'."),
    Field("duration", "number", "How long the check ran.", "seconds"),
)
_TARGET_LEN = 60


@probes.register("command")
class CommandProbe(Probe):
    """Run a check program and read its verdict, Nagios-plugin style.

    Exit codes 0, 1, 2 and 3 give ``status`` ok, warning, critical and unknown; any
    other code is unknown. Every perfdata item (``'label'=value[unit];warn;crit;min;max``)
    becomes a field named after its label in lowercase with other characters turned
    into ``_`` (``'/ used'=45%`` gives ``used``, plus ``used_warn``, ``used_crit``,
    ``used_min`` and ``used_max`` where given). Give ``argv`` (run directly, no shell)
    or, only when shell syntax is needed, ``shell`` (run by ``/bin/sh -c``). A check
    still running at the probe's ``timeout`` is killed with everything it started, and
    reads as ``status: unknown``, ``timed_out: true`` and a null ``exit_code``. The
    target is ``name`` if given, else the command text cut to 60 characters.

    ```yaml
    version: 1
    policies:
      - name: queue-backlog
        description: Restart the consumer when the queue check turns critical.
        probe:
          type: command
          name: queue-depth
          argv: [/usr/lib/nagios/plugins/check_queue, -w, "1000", -c, "5000"]
          every: 1m
          timeout: 20s
        when: status == "critical" or depth > 5000
        for: 3m
        remediate:
          - command: {argv: [systemctl, restart, consumer], timeout: 60s}
        verify: {after: 2m}
        limits: {max: 2, per: 1h, cooldown: 15m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "argv": argv("The program and its arguments; no shell is involved."),
            "shell": {
                "type": "string",
                "minLength": 1,
                "description": "Shell text run by /bin/sh -c; only when argv cannot do.",
            },
            "env": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Extra environment variables.",
            },
            "cwd": {"type": "string", "pattern": "^/", "description": "Working directory."},
            "name": {"type": "string", "minLength": 1, "description": "The target id."},
        },
    )
    fields = FIELDS
    dynamic_fields = True
    default_every = 60.0
    default_timeout = 10.0

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.argv = command_argv(options)
        name = options.get("name")
        self.target = str(name) if name else _shorten(command_text(options, self.argv))
        self.env: Mapping[str, str] | None = options.get("env")
        self.cwd: str | None = options.get("cwd")

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        if program_mistake(options):
            return ["give exactly one of argv (preferred, no shell) or shell."]
        argv = options.get("argv")
        if argv is not None and not argv[0]:
            return ["argv starts with an empty program name; put the check's path first."]
        return []

    async def measure(self) -> Measurement:
        # Here, not at the top: loading the class (`medic validate`) needs neither.
        from medic.probes.commands.nagios import parse_output, perfdata_fields, status_for
        from medic.proc import run_process

        timeout = self.timeout
        try:
            run = await run_process(self.argv, timeout=timeout, env=self.env, cwd=self.cwd)
        except OSError as exc:
            raise ProbeError(
                f"cannot start {self.argv[0]}: {exc.strerror or exc}",
                hint="check the program path in argv and that Medic may execute it",
            ) from exc
        if run.timed_out:
            fields: dict[str, Any] = {
                "status": "unknown",
                "exit_code": None,
                "ok": False,
                "timed_out": True,
                "output": f"check timed out after {format_duration(timeout)}",
                "long_output": "",
                "duration": round(run.duration, 3),
            }
            return {self.target: fields}
        text = run.stdout if run.stdout.strip() else run.stderr
        parsed = parse_output(text)
        fields = {
            "status": status_for(run.exit_code),
            "exit_code": run.exit_code,
            "ok": run.exit_code == 0,
            "timed_out": False,
            "output": parsed.text,
            "long_output": parsed.long_text,
            "duration": round(run.duration, 3),
        }
        fields.update(perfdata_fields(parsed.perfdata, reserved=fields))
        return {self.target: fields}


def _shorten(text: str) -> str:
    return text if len(text) <= _TARGET_LEN else text[: _TARGET_LEN - 1] + "…"
