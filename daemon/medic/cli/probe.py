"""``medic probe TYPE key=value ...``: run one probe once and print what it yields.

This is how a user learns what to write in ``when:``: every field, per target, with
its value as the condition sees it (sizes in bytes, ages in seconds), plus a readable
form where that helps.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click
import jsonschema
import yaml

from medic import humanize
from medic.cli import table
from medic.cli.output import output_option
from medic.cli.params import Duration
from medic.deadline import within
from medic.probes.base import Field, Probe, probes

MAX_PROBE_TIMEOUT = 3600.0


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r} is not key=value", param_hint="OPTION")
    return key, yaml.safe_load(raw) if raw else ""


def _readable(field: Field | None, value: Any) -> str | None:
    if field is None or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if field.unit == "bytes":
        return humanize.size(value)
    if field.unit == "seconds" and value >= 1:
        return humanize.seconds(float(value))
    return None


def _print_fields(cls: type[Probe], measurement: dict[str, dict[str, Any]]) -> None:
    declared = {f.name: f for f in cls.fields}
    if not measurement:
        click.echo("(no targets selected: a policy with this probe would act on nothing)")
    for target, fields in measurement.items():
        click.echo(f"{target}:")
        order = [n for n in declared if n in fields] + sorted(set(fields) - set(declared))
        for name in order:
            value = fields[name]
            shown = json.dumps(value, default=str)
            note = _readable(declared.get(name), value)
            click.echo(f"  {name} = {shown}" + (f"    # {note}" if note else ""))


def _list_types() -> None:
    """One row per probe type: its name, what it does, the fields it yields."""
    rows = []
    for name, cls in probes.items():
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        names = ", ".join(cls.field_names()) + (", ... (dynamic)" if cls.dynamic_fields else "")
        rows.append([name, summary, names])
    click.echo(table.render(("TYPE", "SUMMARY", "FIELDS"), rows, flex=(1, 2)))


@click.command("probe")
@click.argument("probe_type", required=False)
@click.argument("options", nargs=-1)
@click.option(
    "--timeout",
    type=Duration(MAX_PROBE_TIMEOUT),
    default="10s",
    help="Give up after this long (e.g. 5s, at most 1h).",
)
@output_option(["table", "json"])
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Old name of -o json.")
@click.option("--list", "list_types", is_flag=True, help="List probe types and their fields.")
def command(
    probe_type: str | None,
    options: tuple[str, ...],
    timeout: float,
    output: str,
    as_json: bool,
    list_types: bool,
) -> None:
    """Run probe PROBE_TYPE once with OPTIONS (key=value) and print its fields per target.

    \b
    Examples:
      medic probe --list
      medic probe host.disk
      medic probe host.disk -o json
      medic probe process name=sshd
      medic probe file path=/var/backups/db.gz
      medic probe command 'argv=[/usr/lib/nagios/plugins/check_load, -w, "5,4,3", -c, "10,8,6"]'
    """
    if list_types or probe_type is None:
        _list_types()
        return
    cls = probes.get(probe_type)
    if cls is None:
        near = probes.suggest(probe_type)
        hint = f"did you mean {near!r}? " if near else ""
        raise click.ClickException(
            f"unknown probe type {probe_type!r}; {hint}valid types: {', '.join(probes.names())}"
        )
    opts = dict(_parse_option(o) for o in options)
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(cls.schema).iter_errors(opts)
    )
    problems = [error.message] if error is not None else cls.validate(opts)
    if problems:
        raise click.ClickException(f"probe {probe_type}: {problems[0]}")
    seconds = timeout
    probe = cls(opts)
    probe.timeout = seconds

    async def once() -> dict[str, dict[str, Any]]:
        try:
            return await within(probe.measure(), seconds)
        finally:
            await probe.close()

    try:
        measurement = asyncio.run(once())
    except TimeoutError as exc:
        raise click.ClickException(
            f"probe {probe_type} timed out after {humanize.seconds(timeout)}"
        ) from exc
    except Exception as exc:  # show the probe's own words, not a traceback
        raise click.ClickException(f"probe {probe_type} failed: {exc}") from exc
    if as_json or output == "json":
        click.echo(json.dumps(measurement, indent=2, default=str, sort_keys=True))
    else:
        _print_fields(cls, measurement)
