"""STUB: medic validate (being written)."""

import click


@click.command("validate")
def command() -> None:
    """(not yet written)"""
    raise click.ClickException("not yet written")
