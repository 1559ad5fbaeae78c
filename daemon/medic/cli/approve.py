"""``medic approve``, ``medic deny`` and ``medic ack``: answer for an incident.

A policy with ``approval: {required: true}`` asks before it acts; the notification
names the incident. Approving lets the agent act at once (within its limits);
denying means it does nothing more for that incident. Acknowledging records that a
human has seen the incident. Each is audited with ``--by`` (default ``user@host``) and
``--comment``. A unique prefix of the incident id is enough (the agent resolves it).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import click

from medic.cli.agent_client import AgentClient, connection_options, who


def _command(verb: str, help_text: str) -> click.Command:
    @click.command(verb, help=help_text)
    @click.argument("incident")
    @click.option("--by", help="Who answers [default: user@host].")
    @click.option("--comment", help="Why, for the audit log.")
    @connection_options
    def run(
        incident: str,
        by: str | None,
        comment: str | None,
        url: str | None,
        config_path: Path | None,
        token_env: str | None,
    ) -> None:
        client = AgentClient(verb, url, config_path, token_env)
        body = {"by": by or who(), **({"comment": comment} if comment else {})}
        path = f"/api/v1/incidents/{quote(incident, safe='')}/{verb}"
        answer = client.call("POST", path, body)
        done = answer.get("decision") or "acknowledged"
        who_ = answer.get("by") or answer.get("acknowledged_by")
        click.echo(
            f"incident {answer['incident']} ({answer['policy']} on {answer['target']}): "
            f"{done} by {who_}"
        )

    return run


approve = _command("approve", "Approve the action INCIDENT waits for; Medic acts at once.")
deny = _command("deny", "Deny the action INCIDENT waits for; Medic does nothing more for it.")
ack = _command("ack", "Acknowledge INCIDENT: record that you have seen it; Medic carries on.")
