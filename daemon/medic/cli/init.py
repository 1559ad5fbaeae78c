"""``medic init DIR``: a starter agent config and the example packs, from the package.

Writes ``DIR/medic.yaml`` (dry-run, audit in ``--state-dir``, API on loopback, the packs
given with ``--enable`` switched on; ``host`` by default) and every example pack under
``DIR/policies/<pack>/``. Nothing is overwritten unless ``--force``: when any file is
already there, nothing at all is written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from medic import __version__
from medic.errors import MedicError
from medic.packaged import packs

CONFIG_TEMPLATE = """\
# Medic agent config, written by `medic init` (Medic {version}).
# Everything starts in dry-run: Medic measures, decides and writes the audit log, and
# acts on nothing. After a while, read what it would have done:
#   medic audit list --config {config} --kind action.would_run
# then set dry_run: false (and `systemctl reload medic`, or restart `medic run`).
dry_run: true
state_dir: {state_dir}
policies:
  # Relative paths are relative to this file. The other packs under policies/ need
  # their systems and secrets: add their folders here once those exist.
{enabled}
api:
  listen: 127.0.0.1:9325
log:
  format: auto
  level: info
notifiers:
  # The example packs escalate to `oncall`. In dry-run nothing is sent; point it at
  # your receiver (webhook, Slack, PagerDuty, e-mail: Medic's docs/notifiers.md).
  oncall:
    type: webhook
    url: http://127.0.0.1:9326/medic
"""


def _plan(directory: Path, shipped: dict[str, Path]) -> dict[Path, Path | None]:
    """Every file to write -> the packaged file it copies (``None``: the config)."""
    plan: dict[Path, Path | None] = {directory / "medic.yaml": None}
    for name, source in shipped.items():
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                plan[directory / "policies" / name / path.relative_to(source)] = path
    return plan


def render_config(config: Path, state_dir: str, enabled: list[str]) -> str:
    """The starter config's text; paths are quoted (JSON strings are YAML strings)."""
    lines = "\n".join(f"  - {json.dumps('policies/' + name)}" for name in enabled)
    return CONFIG_TEMPLATE.format(
        version=__version__, config=config, state_dir=json.dumps(state_dir), enabled=lines
    )


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--state-dir",
    default="state",
    show_default=True,
    help="Where the audit database goes (relative: to DIR), e.g. /var/lib/medic.",
)
@click.option(
    "--enable",
    "enabled",
    multiple=True,
    default=("host",),
    show_default=True,
    help="A pack to switch on in the config (repeat for more); all packs are written.",
)
@click.option("--force", is_flag=True, help="Overwrite files that are already there.")
def command(directory: Path, state_dir: str, enabled: tuple[str, ...], force: bool) -> None:
    """Write a starter config (dry-run) and the example policy packs into DIRECTORY."""
    try:
        shipped = packs()
    except MedicError as exc:
        raise click.ClickException(f"{exc} (hint: {exc.hint})") from exc
    unknown = [name for name in enabled if name not in shipped]
    if unknown:
        raise click.BadParameter(
            f"no pack named {', '.join(unknown)}; packs: {', '.join(shipped)}",
            param_hint="--enable",
        )
    plan = _plan(directory, shipped)
    present = [path for path in plan if path.exists()]
    if present and not force:
        listed = "\n".join(f"  {path}" for path in present[:10])
        more = f"\n  ... and {len(present) - 10} more" if len(present) > 10 else ""
        raise click.ClickException(
            f"{len(present)} file(s) already exist, nothing was written:\n{listed}{more}\n"
            "(hint: pass --force to overwrite them, or choose another directory)"
        )
    config = directory / "medic.yaml"
    for target, source in plan.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        if source is None:
            target.write_text(render_config(config, state_dir, list(enabled)), encoding="utf-8")
        else:
            shutil.copyfile(source, target)
    config.chmod(0o640)  # it will hold notifier URLs; secrets go to the environment
    click.echo(f"wrote {config} (dry-run; enabled: {', '.join(enabled)})")
    for name in shipped:
        count = sum(1 for path in plan if path.parent.is_relative_to(directory / "policies" / name))
        files = "1 file" if count == 1 else f"{count} files"
        click.echo(f"wrote {directory / 'policies' / name}/ ({files})")
    click.echo("next:")
    click.echo(f"  medic validate --config {config}")
    click.echo(f"  medic run --config {config}")
