"""``medic schema``: print the JSON Schema editors use to check policy files.

The schema is generated from the installed probes and actions, so it always matches
what this agent accepts. Save it and point the editor at it with a modeline::

    medic schema --out .medic/policy.schema.json
    # yaml-language-server: $schema=../.medic/policy.schema.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from medic.cli.output import output_option
from medic.config_schema import SCHEMA as CONFIG_SCHEMA
from medic.policy.schema import DRAFT, policy_file_schema


def render(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


@click.command("schema")
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (its directory is created) instead of standard output.",
)
@output_option(["json"], default="json")
@click.option(
    "--config",
    "config",
    is_flag=True,
    help="Print the agent config (medic.yaml) schema instead of the policy schema.",
)
def command(out_file: Path | None, output: str, config: bool) -> None:
    """Print the policy file JSON Schema (Draft 2020-12), generated from the plugins."""
    if config:
        schema = {"$schema": DRAFT, "title": "Medic agent config", **CONFIG_SCHEMA}
    else:
        schema = policy_file_schema()
    text = render(schema)
    if out_file is None:
        click.echo(text, nl=False)
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(text, encoding="utf-8")
    click.echo(f"wrote {out_file}", err=True)
