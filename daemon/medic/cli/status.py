"""``medic status [POLICY]``: what the running agent is doing, asked over its HTTP API.

Reads ``/health`` and ``/api/v1/policies`` and prints one line per policy target
(state, since when, incident, attempts, the probe's key values), then the policy
files the agent rejected with their first error. ``POLICY`` (a name or a glob) keeps
those policies only. It asks through the CLI's one client (:mod:`medic.cli.agent_client`),
which gives up after a few seconds and says why.

The exit status is for scripts and monitoring checks:

- 0: healthy;
- 1: the agent answered and something needs a human: a target escalated (its incident
  is open and was handed to people), a policy file rejected, the agent unhealthy
  (its audit log cannot be written), or no loaded policy matches ``POLICY``;
- 2: the state could not be read: no agent answering, a refused token, a bad option.
"""

from __future__ import annotations

import json
import time
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import click

from medic import humanize
from medic.cli import table
from medic.cli.agent_client import AgentClient, AgentRefused, connection_options
from medic.cli.output import output_option

VALUES_WIDTH = 60
COLUMNS = ("POLICY", "TARGET", "STATE", "SINCE", "INCIDENT", "ATTEMPTS", "VALUES")


class StatusFailed(AgentRefused):
    """The state could not be read: ``medic status: <message>`` on stderr, exit status 2."""

    exit_code = 2


def ago(since: Any, now: float) -> str:
    """``3m ago`` for a wall-clock time in seconds or ISO text; ``-`` when unknown."""
    return humanize.ago(since if isinstance(since, str | int | float) else None, now)


def key_values(values: Any) -> str:
    """``name=value`` pairs of a target's last measurement, cut to fit one line."""
    if not isinstance(values, dict) or not values:
        return "-"
    parts = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()]
    return table.cut(" ".join(parts), VALUES_WIDTH)


def rows(policies: list[dict[str, Any]], now: float) -> list[tuple[str, ...]]:
    """One row per policy target; a policy with no targets gets one row of its own,
    showing its probe's last error when it has one."""
    out: list[tuple[str, ...]] = []
    for policy in policies:
        name = str(policy.get("name")) + (" [dry-run]" if policy.get("dry_run") else "")
        targets = policy.get("targets") or []
        if not targets and policy.get("last_error"):
            error = table.cut(str(policy["last_error"]), VALUES_WIDTH)
            out.append((name, "-", "probe error", "-", "-", "-", error))
        elif not targets:
            out.append((name, "-", "no targets", "-", "-", "-", "-"))
        for target in targets:
            out.append(
                (
                    name,
                    str(target.get("target", "-")),
                    str(target.get("state", "-")),
                    ago(target.get("since"), now),
                    str(target.get("incident") or "-"),
                    str(target.get("attempts", 0)),
                    key_values(target.get("values")),
                )
            )
    return out


def _count(n: Any, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def render_table(health: dict[str, Any], body: dict[str, Any], now: float) -> str:
    """The whole report: a headline, the aligned target table, the rejected files."""
    rejected = body.get("rejected") or []
    lines = [
        f"medic {health.get('version')} on {health.get('host')}, "
        f"up {humanize.seconds(float(health.get('uptime_seconds', 0)))}: "
        f"{_count(health.get('policies', 0), 'policy', 'policies')}, "
        f"{_count(len(rejected), 'rejected file', 'rejected files')}",
        "",
    ]
    found = rows(body.get("policies") or [], now)
    if not found:
        found = [("(no policies loaded)", "", "", "", "", "", "")]
    lines.append(table.render(COLUMNS, found, flex=(0, 1, 6)))
    if rejected:
        lines += ["", "rejected policy files:"]
        for item in rejected:
            errors = item.get("errors") or ["(no error recorded)"]
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            lines.append(f"  {item.get('file')}: {errors[0]}{more}")
    return "\n".join(lines)


def problems(health: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """What needs a human, one line each (empty: healthy)."""
    found = []
    if health.get("status", "ok") != "ok":
        found.append(f"the agent is unhealthy: {health.get('reason') or health.get('status')}")
    for policy in body.get("policies") or []:
        for target in policy.get("targets") or []:
            if target.get("state") == "escalated":
                found.append(
                    f"{policy.get('name')} on {target.get('target')}: escalated, "
                    f"incident {target.get('incident') or '-'} open"
                )
    for item in body.get("rejected") or []:
        found.append(f"policy file {item.get('file')} rejected")
    return found


def _select(body: dict[str, Any], pattern: str | None) -> dict[str, Any]:
    """``body`` with only the policies ``pattern`` (a name or glob) matches."""
    if pattern is None:
        return body
    chosen = [p for p in body.get("policies") or [] if fnmatchcase(str(p.get("name")), pattern)]
    return {**body, "policies": chosen}


@click.command("status")
@click.argument("policy", required=False, metavar="[POLICY]")
@connection_options
@output_option(["table", "json"])
def command(
    policy: str | None,
    url: str | None,
    config_path: Path | None,
    token_env: str | None,
    output: str,
) -> None:
    """Show each policy target's live state, asked of the running agent's API.

    POLICY (a name or a glob like 'web-*') shows those policies only. Exit status: 0
    healthy; 1 a target escalated, a policy file rejected, the agent unhealthy, or no
    policy matches POLICY; 2 no agent answering (or no state could be read).
    """
    client = AgentClient("status", url, config_path, token_env, failure=StatusFailed)
    health = client.call("GET", "/health", answers={503})  # 503: alive, but unhealthy
    body = _select(client.call("GET", "/api/v1/policies"), policy)
    found = problems(health, body)
    if policy is not None and not body["policies"]:
        found.insert(0, f"no loaded policy matches {policy!r}")
    if output == "json":
        report = {"agent": health, **body, "healthy": not found, "problems": found}
        click.echo(json.dumps(report, indent=2, default=str))
    else:
        click.echo(render_table(health, body, time.time()))
    if found:
        for line in found:
            click.echo(f"medic status: {line}", err=True)
        raise SystemExit(1)
