"""STUB: medic audit (being written)."""

import click


@click.command("audit")
def command() -> None:
    """(not yet written)"""
    raise click.ClickException("not yet written")
