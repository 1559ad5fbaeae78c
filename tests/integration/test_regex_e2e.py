"""A catastrophic regex against probe output never freezes the agent (issue 9, finding 2).

Python's backtracking `re` needs about 2^N steps for `(a+)+$` on 'a'*N + 'b'; at N = 5000
the old agent stopped answering /health and ignored SIGTERM. Patterns run on RE2 now.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

import pytest

from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration

ADVERSARIAL = "a" * 5000 + "b"


def test_nested_repetition_on_probe_output_keeps_the_agent_responsive(tmp_path: Path) -> None:
    """(a+)+$ on 'a'*5000+'b' is evaluated, /health answers every poll, SIGTERM stops it."""
    agent = AgentProcess(tmp_path)
    agent.write_policy("adversarial.yaml", [
        {"name": "adversarial-output",
         "probe": {"type": "command", "argv": ["printf", ADVERSARIAL], "every": "200ms"},
         # `or` evaluates left to right: firing proves the regex test has returned.
         "when": 'output matches "(a+)+$" or ok',
         "for": "0s"},
    ])  # fmt: skip
    try:
        agent.start()
        agent.wait_for(lambda: "incident.fired" in agent.kinds(), what="incident.fired", timeout=30)
        fired = agent.events("incident.fired")[0]
        assert fired["values"]["output"] == ADVERSARIAL
        slowest = 0.0
        for _ in range(20):
            start = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{agent.port}/health", timeout=3) as r:
                assert r.status == 200
            slowest = max(slowest, time.monotonic() - start)
            time.sleep(0.1)
        assert slowest < 1.0, f"/health took {slowest:.2f} s"
        started = time.monotonic()
        agent.signal(signal.SIGTERM)
        assert agent.proc is not None
        assert agent.proc.wait(10) == 0
        assert time.monotonic() - started < 5.0
    finally:
        agent.stop()
