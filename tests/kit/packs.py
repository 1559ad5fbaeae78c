"""The pack end-to-end tests' shared pieces: the shipped pack files, and a `medic run`
whose notifiers are the pack's, each delivered to a local webhook receiver.

The tests run the pack's own policy files. ``pack_policies`` copies the named policies
out of ``policies/<pack>/`` with two kinds of documented change only: text
replacements (a container name with a unique suffix, a free port, a temporary
directory in place of a real path) and key overrides that shorten a time a test cannot
wait for (``probe.every``, ``verify.after``, ``limits.cooldown``). Each test says which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kit.agent_harness import AgentProcess
from kit.http_stub import Reply, Request, StubServer

ROOT = Path(__file__).resolve().parents[2]

# The override most pack tests give a policy: probe every second, verify three seconds on.
FAST: dict[str, Any] = {"probe.every": "1s", "verify.after": "3s"}


def pack_policies(
    pack: str,
    names: list[str],
    replace: dict[str, str] | None = None,
    override: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The named policies of ``policies/<pack>/`` as one policy file's text.

    ``replace`` maps text to text over the pack files; ``override`` maps a policy name
    to ``{"probe.every": "1s", "verify.after": "2s", ...}`` (dotted keys).
    """
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((ROOT / "policies" / pack).glob("*.yaml")):
        if path.name.endswith(".test.yaml"):
            continue
        text = path.read_text()
        for old, new in (replace or {}).items():
            text = text.replace(old, new)
        for policy in yaml.safe_load(text)["policies"]:
            found[policy["name"]] = policy
    chosen = []
    for name in names:
        policy = found[name]
        for dotted, value in (override or {}).get(name, {}).items():
            *parents, key = dotted.split(".")
            holder = policy
            for parent in parents:
                holder = holder.setdefault(parent, {})
            holder[key] = value
        chosen.append(policy)
    return yaml.safe_dump({"version": 1, "policies": chosen}, sort_keys=False)


class Receiver(StubServer):
    """A local webhook receiver: what each notifier of a pack was sent, by notifier."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        super().__init__(self.keep)

    def keep(self, request: Request) -> Reply:
        self.received.append({"to": request.path.strip("/"), "body": request.json()})
        return Reply()


def notifiers_of(pack: str, url: str) -> dict[str, Any]:
    """The pack's example config's notifiers, each a webhook to ``url``/<name> instead."""
    example = yaml.safe_load((ROOT / "docs" / "examples" / f"{pack}.medic.yaml").read_text())
    return {name: {"type": "webhook", "url": f"{url}/{name}"} for name in example["notifiers"]}


def pack_agent(root: Path, pack: str, receiver: Receiver) -> AgentProcess:
    """A `medic run` whose notifiers are the pack's, all delivered to ``receiver``."""
    agent = AgentProcess(root)
    config = yaml.safe_load(agent.config.read_text())
    config["notifiers"] = notifiers_of(pack, receiver.url)
    agent.config.write_text(yaml.safe_dump(config))
    return agent
