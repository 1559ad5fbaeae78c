"""STUB: medic status (being written)."""

import click


@click.command("status")
def command() -> None:
    """(not yet written)"""
    raise click.ClickException("not yet written")
