"""``medic approve INCIDENT`` and ``medic deny INCIDENT``: answer an approval request.

A policy with ``approval: {required: true}`` asks before it acts; the notification
names the incident. Approving lets the agent act at once (within its limits);
denying means it does nothing more for that incident. The answer is audited with
``--by`` (default ``user@host``) and ``--comment``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import click

from medic.cli.agent_client import AgentClient, who
from medic.cli.status import connection_options


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
        click.echo(
            f"incident {answer['incident']} ({answer['policy']} on {answer['target']}): "
            f"{answer['decision']} by {answer['by']}"
        )

    return run


approve = _command("approve", "Approve the action INCIDENT waits for; Medic acts at once.")
deny = _command("deny", "Deny the action INCIDENT waits for; Medic does nothing more for it.")
