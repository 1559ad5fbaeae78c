"""Chaos: the agent is killed with SIGKILL at random moments, 50 times, while its target
is killed over and over. Afterwards the audit log must show every rail held.

Fixed seed; the figures (restarts, actions, interrupted, breaches) are printed.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kit.chaos_harness import ChaosAgent, Sleeper
from medic.audit.events import ACTION_OUTCOMES
from medic.clock import parse_iso

pytestmark = pytest.mark.integration

SEED = 20240501
RESTARTS = 50
# The policy: at most 2 attempts per 10 s on the sleeper. The host-wide breaker opens
# at 3 attempts within 20 s and holds for 30 s: once the attempts have aged out of its
# 20 s window, only its remembered hold (not the rate) keeps Medic from acting.
LIMIT_MAX, LIMIT_PER = 2, 10.0
BREAKER_PER, RESET_AFTER = 20.0, 30.0


@pytest.fixture
def sleeper() -> Iterator[Sleeper]:
    s = Sleeper(f"medic-chaos-{uuid.uuid4().hex[:8]}")
    yield s
    s.kill_everything()


@pytest.fixture
def agent(tmp_path: Path, sleeper: Sleeper) -> Iterator[ChaosAgent]:
    policy = {
        "name": "sleeper-down",
        "probe": {"type": "process", "cmdline": sleeper.tag, "every": "1s"},
        "when": "not running",
        "remediate": [{"command": {"argv": sleeper.restart_argv(0.4), "timeout": "10s"}}],
        "verify": {"after": "1s"},
        "limits": {"max": LIMIT_MAX, "per": f"{LIMIT_PER:g}s", "cooldown": "0s"},
    }
    config = {
        "state_dir": str(tmp_path / "state"),
        "api": {"enabled": False},
        "limits": {
            "circuit_breaker": {
                "max_actions": 3,
                "per": f"{BREAKER_PER:g}s",
                "reset_after": f"{RESET_AFTER:g}s",
            }
        },
    }
    a = ChaosAgent(tmp_path, config, [policy])
    yield a
    a.close()


def test_fifty_sigkills_leave_no_orphan_action_no_breach_and_the_breaker_held(
    agent: ChaosAgent, sleeper: Sleeper
) -> None:
    """50 kill -9 at random points: every action has an outcome or an interrupted mark,
    no window holds more attempts than the limit, and an open breaker held across restarts."""
    rng = random.Random(SEED)  # noqa: S311 -- a reproducible schedule, not a secret
    sleeper.start()
    began = time.monotonic()
    for round_ in range(RESTARTS):
        agent.start()
        if round_ % 2:  # at a random moment after start-up ...
            agent.wait_ready()
            pause = rng.uniform(0.0, 1.6)
        else:  # ... or anywhere, start-up included
            pause = rng.uniform(0.05, 1.2)
        if rng.random() < 0.6:
            time.sleep(pause * rng.random())
            sleeper.kill()
            time.sleep(pause * rng.random())
        else:
            time.sleep(pause)
        agent.kill9()
    agent.start()  # a last clean run marks what the last kill interrupted
    agent.wait_ready()
    time.sleep(1.0)
    agent.stop()
    elapsed = time.monotonic() - began

    events = agent.events()
    figures = audit_figures(events)
    print(f"\nchaos: {RESTARTS} kill -9, {elapsed:.1f}s, {figures}")
    # Some kills land before the agent wrote agent.started: fewer starts in the log.
    assert RESTARTS / 2 < figures["restarts"] <= RESTARTS + 1
    assert figures["actions"] >= 3, "the agent must have acted for the test to mean anything"
    assert figures["orphans"] == [], "action.started without an outcome or interrupted mark"
    assert figures["breaches"] == [], f"more than {LIMIT_MAX} attempts within {LIMIT_PER:g}s"
    assert figures["breaker_opened"] >= 1, "the breaker must have opened for the test to count"
    assert figures["breaker_violations"] == []
    assert figures["restarts_while_open"] >= 1, "no restart fell inside a breaker hold"


def audit_figures(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What the audit log says happened, and every rail it shows broken."""
    started = [e for e in events if e["kind"] == "action.started"]
    ended = {e["action"] for e in events if e["kind"] in {k.value for k in ACTION_OUTCOMES}}
    attempts: dict[str, list[float]] = defaultdict(list)
    for e in started:
        if e["details"].get("step", 0) == 0:
            attempts[e["target"]].append(parse_iso(e["time"]))
    breaches = [
        (target, t)
        for target, times in attempts.items()
        for t in times
        if sum(1 for u in times if t - LIMIT_PER < u <= t) > LIMIT_MAX
    ]
    starts = [parse_iso(e["time"]) for e in started]
    restarts = [parse_iso(e["time"]) for e in events if e["kind"] == "agent.started"]
    violations: list[str] = []
    while_open = 0
    for e in events:
        if e["kind"] != "breaker.opened":
            continue
        opened = parse_iso(e["time"])
        closes = [
            parse_iso(c["time"])
            for c in events
            if c["kind"] == "breaker.closed" and c["id"] > e["id"]
        ]
        until = min(closes, default=opened + RESET_AFTER)
        if until < opened + RESET_AFTER - 0.01:
            violations.append(f"closed {until - opened:.1f}s after opening")
        violations += [
            f"acted {t - opened:.1f}s after opening" for t in starts if opened < t < until
        ]
        while_open += sum(1 for t in restarts if opened < t < opened + RESET_AFTER)
    return {
        "restarts": len(restarts),
        "actions": len(started),
        "interrupted": sum(1 for e in events if e["kind"] == "action.interrupted"),
        "suppressed": sum(1 for e in events if e["kind"] == "action.suppressed"),
        "orphans": [e["action"] for e in started if e["action"] not in ended],
        "breaches": breaches,
        "breaker_opened": sum(1 for e in events if e["kind"] == "breaker.opened"),
        "breaker_violations": violations,
        "restarts_while_open": while_open,
    }
