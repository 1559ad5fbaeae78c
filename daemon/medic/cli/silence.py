"""``medic silence add|list|expire``: quiet times, set on the running agent.

A silence covers the policies and targets its matchers name (``--policy`` and
``--target`` globs, ``--label key=value`` on the policy's labels). While it lasts
the agent keeps probing and auditing, pages nobody, and acts only with ``--act``.
Maintenance windows (from the agent config and policies) are listed, not set, here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from medic import humanize
from medic.cli import table
from medic.cli.agent_client import AgentClient, AgentRefused, connection_options, who
from medic.cli.output import local_option, output_option
from medic.cli.params import Duration, Moment
from medic.engine.human_input import MAX_SILENCE


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="--label")
        out[key] = value
    return out


def describe_matchers(matchers: dict[str, Any]) -> str:
    """``policy=web-* target=api labels=team=web``."""
    parts = [f"{k}={matchers[k]}" for k in ("policy", "target") if k in matchers]
    labels = matchers.get("labels") or {}
    parts += [f"label:{k}={v}" for k, v in sorted(labels.items())]
    return " ".join(parts) or "(everything)"


def render(silences: list[dict[str, Any]], local: bool = False) -> str:
    """One line per silence and window: when, what, whether it may act, who and why."""
    header = ("ID", "ACTIVE", "UNTIL / NEXT", "MATCHES", "ACT", "AUTHOR", "REASON")
    rows = []
    for s in silences:
        when = s.get("ends") if s.get("active") or s.get("kind") == "silence" else s.get("next")
        shown = humanize.moment(when, local=local)
        if s.get("kind") == "maintenance":
            shown = f"{shown} ({s.get('cron')})"
        rows.append(
            (
                str(s.get("id")),
                "yes" if s.get("active") else "no",
                shown,
                describe_matchers(s.get("matchers") or {}),
                "yes" if s.get("act") else "no",
                str(s.get("author") or "-"),
                str(s.get("reason") or "-"),
            )
        )
    if not rows:
        return "no silences and no maintenance windows"
    return table.render(header, rows, flex=(3, 6))


@click.group("silence")
def command() -> None:
    """Silence policies and targets on the running agent: no pages, and no actions
    unless --act."""


@command.command("add")
@click.option("--policy", metavar="GLOB", help="Policy names to cover, e.g. 'web-*'.")
@click.option("--target", metavar="GLOB", help="Targets to cover, e.g. 'db-1'.")
@click.option("--label", "labels", multiple=True, metavar="KEY=VALUE", help="Policy label.")
@click.option(
    "--duration", type=Duration(MAX_SILENCE), metavar="DURATION", help="How long, like 30m or 2h."
)
@click.option("--until", "ends", type=Moment(), metavar="TIME", help="Until an ISO time instead.")
@click.option("--starts", type=Moment(), metavar="TIME", help="Start later, at an ISO time.")
@click.option("--reason", required=True, help="Why; shown with everything it suppresses.")
@click.option("--author", help="Who sets it [default: user@host].")
@click.option("--act/--no-act", default=False, show_default=True, help="Let Medic still act.")
@connection_options
def add(
    policy: str | None,
    target: str | None,
    labels: tuple[str, ...],
    duration: float | None,
    ends: str | None,
    starts: str | None,
    reason: str,
    author: str | None,
    act: bool,
    url: str | None,
    config_path: Path | None,
    token_env: str | None,
) -> None:
    """Create a silence on the running agent."""
    matchers: dict[str, Any] = {}
    if policy:
        matchers["policy"] = policy
    if target:
        matchers["target"] = target
    if labels:
        matchers["labels"] = _labels(labels)
    if not matchers:
        raise click.UsageError("name what to silence: --policy, --target or --label")
    if (duration is None) == (ends is None):
        raise click.UsageError("give either --duration or --until")
    body: dict[str, Any] = {
        "matchers": matchers,
        "reason": reason,
        "author": author or who(),
        "act": act,
    }
    body.update(
        {
            k: v
            for k, v in (("duration", duration), ("ends", ends), ("starts", starts))
            if v is not None
        }
    )
    client = AgentClient("silence add", url, config_path, token_env)
    silence = client.call("POST", "/api/v1/silences", body)
    doing = "acts, pages nobody" if silence.get("act") else "no actions, no pages"
    click.echo(
        f"silence {silence['id']}: {describe_matchers(silence['matchers'])} "
        f"until {silence['ends']} ({doing})"
    )


@command.command("list")
@output_option(["table", "json"])
@local_option
@connection_options
def list_(
    output: str, local: bool, url: str | None, config_path: Path | None, token_env: str | None
) -> None:
    """List silences that have not ended, and the maintenance windows."""
    body = AgentClient("silence list", url, config_path, token_env).call("GET", "/api/v1/silences")
    silences = body.get("silences", []) if isinstance(body, dict) else []
    if output == "json":
        click.echo(json.dumps(silences, indent=2))
    else:
        click.echo(render(silences, local))


@command.command("expire")
@click.argument("silence_id", metavar="ID")
@click.option("--by", help="Who ends it [default: user@host].")
@connection_options
def expire(
    silence_id: str,
    by: str | None,
    url: str | None,
    config_path: Path | None,
    token_env: str | None,
) -> None:
    """End a silence now (a unique prefix of its ID is enough)."""
    client = AgentClient("silence expire", url, config_path, token_env)
    if not silence_id or "/" in silence_id:
        raise AgentRefused("silence expire", f"{silence_id!r} is not a silence id")
    # A unique prefix is enough: the agent resolves it (409 names the candidates).
    path = f"/api/v1/silences/{quote(silence_id, safe='')}"
    silence = client.call("DELETE", path, {"by": by or who()})
    click.echo(f"silence {silence['id']} ended at {silence['ends']}")
