"""STUB: medic probe (being written)."""

import click


@click.command("probe")
def command() -> None:
    """(not yet written)"""
    raise click.ClickException("not yet written")
