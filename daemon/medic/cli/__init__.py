"""The ``medic`` command. Each sub-command lives in its own module of this package.

Sub-command modules are imported only when their command runs (or help lists it), so
`medic validate` in CI does not pay for the HTTP client that `medic status` needs.
"""

from __future__ import annotations

import importlib

import click

from medic import __version__

# command name -> (module, attribute holding the click command)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("medic.cli.init", "command"),
    "run": ("medic.cli.run", "command"),
    "validate": ("medic.cli.validate", "command"),
    "test": ("medic.cli.test", "command"),
    "diff": ("medic.cli.diff", "command"),
    "backtest": ("medic.cli.backtest", "command"),
    "schema": ("medic.cli.schema", "command"),
    "probe": ("medic.cli.probe", "command"),
    "audit": ("medic.cli.audit", "command"),
    "fleet": ("medic.cli.fleet", "command"),
    "status": ("medic.cli.status", "command"),
    "silence": ("medic.cli.silence", "command"),
    "approve": ("medic.cli.approve", "approve"),
    "deny": ("medic.cli.approve", "deny"),
    "ack": ("medic.cli.approve", "ack"),
}


# Commands that import no module logging through structlog directly
# (tests/test_lazy_imports.py holds `validate` to it).
LOG_ON_FIRST_LINE = frozenset({"validate"})


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        command: click.Command = getattr(importlib.import_module(spec[0]), spec[1])
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medic")
def main() -> None:
    """Medic: executable runbooks with limits, verification and an audit trail."""
    from medic import logsetup

    # Log lines go to stderr, so stdout stays clean for JSON and CSV output;
    # `medic run` configures logging again from the agent config. A command whose
    # modules all log through logsetup.get_logger configures on its first line: CI's
    # `medic validate` then never pays for structlog.
    ctx = click.get_current_context()
    if ctx.invoked_subcommand in LOG_ON_FIRST_LINE:
        logsetup.configure_on_first_log("auto", "warning")
        ctx.call_on_close(logsetup.forget_pending)  # never applied after the command
    else:
        logsetup.configure("auto", "warning")
