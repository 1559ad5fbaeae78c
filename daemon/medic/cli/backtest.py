"""``medic backtest``: what a changed policy set would have done over the recorded days.

Reads the agent's recording (the ``samples`` table of the audit database), replays it
through the policies in ``--policies`` on simulated time (:mod:`medic.policytest.replay`)
and prints, per policy, incidents fired, actions started, suppressions and escalations,
real against new, and the incidents that differ. Exit status 0 once the backtest ran
(whatever the differences), 1 when a policy file has errors.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import click

from medic import humanize
from medic.cli.audit_source import SourceSpec, open_local, source_options
from medic.cli.params import Duration

# How far back a backtest reaches: the recording is kept at most this long.
MAX_SINCE = 31 * 86400.0
_ROWS = ("fired", "acted", "suppressed", "escalated")
_LABELS = {
    "fired": "incidents fired",
    "acted": "actions started",
    "suppressed": "suppressed",
    "escalated": "escalated",
}


@click.command("backtest")
@click.option(
    "--policies",
    "policy_dir",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="The changed policy files or directory.",
)
@click.option(
    "--since",
    type=Duration(MAX_SINCE),
    default="7d",
    show_default=True,
    help="How far back to replay (at most 31d).",
)
@click.option("--policy", "only", help="Replay only the policy with this name.")
@source_options()
def command(policy_dir: Path, since: float, only: str | None, source: SourceSpec) -> None:
    """Replay the recorded readings through POLICIES and compare with what happened."""
    from medic.policy.loader import load_paths
    from medic.policytest.replay import backtest

    loaded = load_paths([policy_dir])
    if loaded.errors:
        for error in loaded.errors:
            click.echo(str(error), err=True)
        raise SystemExit(1)
    policies = [p for p in loaded.policies if only is None or p.name == only]
    if only is not None and not policies:
        names = ", ".join(sorted(p.name for p in loaded.policies)) or "none"
        raise click.ClickException(f"no policy named {only!r} in {policy_dir}; loaded: {names}")
    until = time.time()
    start = until - since
    with open_local(source) as local:
        conn = local.conn
        click.echo(f"backtest over {_when(start)} .. {_when(until)} from {local.path}")
        for policy in sorted(policies, key=lambda p: p.name):
            outcome = asyncio.run(backtest(conn, policy, start, until))
            click.echo("")
            if outcome.skipped is not None:
                click.echo(f"{policy.name}: skipped: {outcome.skipped}")
                continue
            click.echo(f"{policy.name}: {outcome.readings} readings of {outcome.targets} target(s)")
            real, new = outcome.counts(outcome.real), outcome.counts(outcome.new)
            click.echo(f"  {'':<18}{'real':>6}{'new':>6}")
            for key in _ROWS:
                mark = "" if real[key] == new[key] else "   <- differs"
                click.echo(f"  {_LABELS[key]:<18}{real[key]:>6}{new[key]:>6}{mark}")
            slack = max(2 * policy.probe.every, 60.0)
            for side, happening in outcome.differing(slack):
                click.echo(f"  {side:<9}  {_when(happening.time)}  fired  {happening.target}")
    raise SystemExit(0)


def _when(t: float) -> str:
    return humanize.moment(t)
