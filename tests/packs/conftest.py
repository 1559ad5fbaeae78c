"""Shared pieces of the pack end-to-end tests: the shipped pack files, and the real
Docker and systemd fixtures of tests/docker and tests/systemd.

The tests run the pack's own policy files. ``pack_policies`` copies the named policies
out of ``policies/<pack>/`` with two kinds of documented change only: text
replacements (a container name with a unique suffix, a free port, a temporary
directory in place of a real path) and key overrides that shorten a time a test cannot
wait for (``probe.every``, ``verify.after``, ``limits.cooldown``). Each test says which.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from agent_harness import AgentProcess  # noqa: E402


def _fixtures(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_docker = _fixtures("packs_docker_fixtures", ROOT / "tests" / "docker" / "conftest.py")
docker_client = _docker.docker_client
busybox_image = _docker.busybox_image
unique = _docker.unique
run_container = _docker.run_container
wait_until = _docker.wait_until
container_state = _docker.container_state

_systemd = _fixtures("packs_systemd_fixtures", ROOT / "tests" / "systemd" / "conftest.py")
node = _systemd.node


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


class Receiver:
    """A local webhook receiver: what each notifier of a pack was sent, by notifier."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append({"to": self.path.strip("/"), "body": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver that lives for one test."""
    r = Receiver()
    yield r
    r.close()


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
