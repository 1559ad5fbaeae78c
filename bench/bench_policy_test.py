"""How fast `medic test` runs policy test cases: 1,000 cases, the real engine, no I/O.

Writes a policy file and a test file of N cases (a mix: heals at once, fails twice and
pages, a `for:` hold that never fires, an on-call level) into a temporary folder, runs
them in-process as `medic test` does, and prints cases per second. Target: 1,000 cases
in under 2 s.

    .venv/bin/python bench/bench_policy_test.py [--cases 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from medic.policytest.check import run_paths

POLICY = """\
version: 1
policies:
  - name: worker-down
    probe: {type: process, name: worker, every: 30s}
    when: not running
    remediate:
      - command: {argv: [systemctl, start, worker], timeout: 30s}
    verify: {after: 10s}
    limits: {max: 3, per: 1h, cooldown: 1m}
    escalate: {after_failures: 2, notify: [oncall], levels: [{after: 15m, notify: [lead]}]}
  - name: memory-high
    probe: {type: host.memory, every: 30s}
    when: percent > 90
    for: 5m
    escalate: {notify: [oncall]}
"""

CASES = [
    """\
  - name: heals {i}
    policy: worker-down
    input: {{worker: {{running: "false"}}}}
    healed: {{running: true}}
    attempts: [heals]
    expect: [{{at: 10s, event: verify.healed}}]
""",
    """\
  - name: pages {i}
    policy: worker-down
    duration: 20m
    input: {{worker: {{running: "false"}}}}
    expect:
      - {{at: 1m10s, event: incident.escalated, reason: remediation_failed}}
      - {{at: 16m10s, event: incident.escalated, level: 2}}
""",
    """\
  - name: spike {i}
    policy: memory-high
    input: {{host: {{percent: "95x4 50x6"}}}}
    expect: [{{event: incident.cleared}}]
    never: [incident.fired]
""",
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "p.yaml").write_text(POLICY, encoding="utf-8")
        body = "".join(CASES[i % len(CASES)].format(i=i) for i in range(args.cases))
        (root / "p.test.yaml").write_text("version: 1\ntests:\n" + body, encoding="utf-8")
        started = time.perf_counter()
        run = run_paths([root])
        elapsed = time.perf_counter() - started
    failed = [r.case.name for r in run.results if not r.ok]
    assert not run.errors and not failed, (run.errors, failed[:3])
    print(
        f"medic test: {len(run.results)} cases in {elapsed:.2f} s "
        f"({len(run.results) / elapsed:.0f} cases/s; target: 1,000 in < 2 s)"
    )


if __name__ == "__main__":
    main()
