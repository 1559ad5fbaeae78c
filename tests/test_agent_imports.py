"""What a running agent leaves unimported (issue 14: memory): one process policy, the API
on and scraped, the audit log on. Each check starts the real agent in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from kit.ports import free_port

REPO = Path(__file__).resolve().parent.parent

AGENT = """
import asyncio, json, sys
from pathlib import Path
import aiohttp
from medic.cli.run import agent_with_api
from medic.config import load_config

async def main() -> None:
    agent = agent_with_api(load_config(Path("medic.yaml")))
    await agent.start()
    await asyncio.sleep(1.5)  # a few evaluations of the policy
    async with aiohttp.ClientSession() as http:
        for path in ("/health", "/metrics", "/api/v1/policies"):
            async with http.get(f"http://127.0.0.1:{PORT}{path}") as reply:
                assert reply.status == 200, (path, reply.status, await reply.text())
    await agent.stop()

asyncio.run(main())
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def agent_modules(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The modules of an agent that ran one process policy and answered its API."""
    root = tmp_path_factory.mktemp("agent-imports")
    port = free_port()
    (root / "policies").mkdir()
    policy = {
        "name": "one-process",
        "probe": {"type": "process", "name": "no-such-program-here", "every": "1s"},
        "when": "not running",
        "remediate": [{"command": {"argv": ["true"]}}],
    }
    (root / "policies" / "p.yaml").write_text(yaml.safe_dump({"version": 1, "policies": [policy]}))
    config = {"state_dir": "state", "api": {"listen": f"127.0.0.1:{port}"}, "dry_run": True}
    (root / "medic.yaml").write_text(yaml.safe_dump(config))
    code = textwrap.dedent(AGENT).replace("PORT", str(port))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "medic.probes.system.process" in modules  # it did run the policy
    return modules


@pytest.mark.integration
@pytest.mark.parametrize(
    "module",
    [
        "jsonschema",  # the config and API bodies pass quick tests; it only words errors
        "referencing",
        "prometheus_client",  # /metrics is written by medic.metric_types
    ],
)
def test_a_running_agent_does_not_import(agent_modules: set[str], module: str) -> None:
    """The agent runs, and answers /health, /metrics and its policies, without it."""
    assert module not in agent_modules
