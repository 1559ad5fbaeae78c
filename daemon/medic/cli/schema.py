"""STUB: medic schema (being written)."""

import click


@click.command("schema")
def command() -> None:
    """(not yet written)"""
    raise click.ClickException("not yet written")
