"""The ``medic`` command. Each sub-command lives in its own module of this package."""

from __future__ import annotations

import click

from medic import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medic")
def main() -> None:
    """Medic: executable runbooks with limits, verification and an audit trail."""
    from medic import logsetup

    # Log lines go to stderr, so stdout stays clean for JSON and CSV output;
    # `medic run` configures logging again from the agent config.
    logsetup.configure("auto", "warning")


def _register() -> None:
    from medic.cli import approve, audit, probe, run, schema, silence, status, validate

    for module in (run, validate, schema, probe, audit, status, silence):
        main.add_command(module.command)
    main.add_command(approve.approve)
    main.add_command(approve.deny)


_register()
