"""STUB: medic run (being written)."""

import click


@click.command("run")
def command() -> None:
    """(not yet written)"""
    raise click.ClickException("not yet written")
