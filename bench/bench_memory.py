"""Agent memory: RSS of `medic run` with 50 process policies, and with every plugin in use.

Issue 14's targets: RSS <= 40 MB with 50 process policies (the peer, Monit with 50
process checks, is the ratio's denominator) and <= 60 MB with every plugin family in
use. Each agent is the real `medic run` in a subprocess (API on, audit on, a new state
directory), waited for until its policies are loaded, left to settle, then sampled once
a second; the figure is the last sample, the peak and the anonymous part (what is not
mapped from files such as libpython and libcrypto) are shown.

    .venv/bin/python bench/bench_memory.py [--scenario process|every|both] [--seconds 10]

"every" runs one policy per registered probe and action type (their docstring examples):
the services they name need not exist, since a probe imports its library on its first
run, whether the service answers or not. When ``monit`` is installed
(``scripts/apt-install.sh monit``) it runs the same 50 process checks at a 1 s cycle.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import yaml

from benchkit import docstring_policies, free_port

PROCESS_POLICIES = 50
TARGET_PROCESS_MB = 40.0
TARGET_EVERY_MB = 60.0
MONIT_PUBLISHED_MB = 7.6  # Monit 5.33, 50 process checks (issue 14), when monit is absent
SETTLE_S = 12.0


def process_policies(count: int) -> list[dict[str, Any]]:
    """``count`` process checks of programs that do not run, and never fire."""
    return [
        {
            "name": f"proc-{i:03d}",
            "probe": {"type": "process", "name": f"bench-proc-{i}", "every": "1s"},
            "when": "count > 1000",
            "remediate": [{"command": {"argv": ["true"]}}],
        }
        for i in range(count)
    ]


def every_family_policies() -> list[dict[str, Any]]:
    """One policy per probe and action docstring example, renamed to stay unique."""
    out = []
    for number, policy in enumerate(docstring_policies()):
        renamed = dict(policy)
        renamed["name"] = f"fam-{number:03d}-{policy['name']}"
        renamed.pop("escalate", None)  # the examples' channels are not configured here
        out.append(renamed)
    return out


def sample_rss(pid: int, seconds: float) -> tuple[float, float, float]:
    """(last, peak, anonymous part of the last) resident memory in MB over ``seconds``
    after the settle time. What is not anonymous is mapped from files: the interpreter,
    libcrypto, the extension modules (shared with other processes that map them)."""
    proc = psutil.Process(pid)
    time.sleep(SETTLE_S)
    peak = 0
    rss = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rss = proc.memory_info().rss
        peak = max(peak, rss)
        time.sleep(1)
    return rss / 2**20, peak / 2**20, anonymous_kb(pid) / 1024


def anonymous_kb(pid: int) -> int:
    for row in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if row.startswith("Anonymous:"):
            return int(row.split()[1])
    return 0


def wait_loaded(proc: subprocess.Popen[bytes], port: int, timeout: float = 90.0) -> None:
    """Until the agent's first policy load is done (on a busy machine it can take
    longer than the settle time): /health counts loaded policies and rejected files."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                health = json.load(reply)
        except (OSError, ValueError):
            health = {}
        if health.get("policies", 0) + health.get("rejected_files", 0) > 0:
            return
        time.sleep(0.2)
    raise SystemExit("medic run did not load its policies within 90 s")


def run_agent(policies: list[dict[str, Any]], seconds: float) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(prefix="medic-bench-memory-") as tmp:
        root = Path(tmp)
        port = free_port()
        (root / "policies").mkdir()
        (root / "policies" / "bench.yaml").write_text(
            yaml.safe_dump({"version": 1, "policies": policies}, sort_keys=False)
        )
        config = {
            "state_dir": "state",
            "policies": ["policies"],
            "watch": True,
            "api": {"listen": f"127.0.0.1:{port}"},
            "log": {"format": "json", "level": "error"},
        }
        (root / "medic.yaml").write_text(yaml.safe_dump(config))
        proc = subprocess.Popen(
            [sys.executable, "-m", "medic", "run", "--config", str(root / "medic.yaml")],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_loaded(proc, port)
            figures = sample_rss(proc.pid, seconds)
            if proc.poll() is not None:
                raise SystemExit(f"medic run exited early:\n{proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
            return figures
        finally:
            proc.terminate()
            proc.wait(20)


def run_monit(count: int, seconds: float) -> tuple[float, float, float] | None:
    monit = shutil.which("monit")
    if monit is None:
        return None
    with tempfile.TemporaryDirectory(prefix="medic-bench-monit-") as tmp:
        root = Path(tmp)
        control = root / "monitrc"
        checks = "".join(
            f'check process proc{i} matching "^bench-proc-{i}$"\n' for i in range(count)
        )
        control.write_text(
            f"set daemon 1\nset logfile {root}/monit.log\nset pidfile {root}/monit.pid\n"
            f"set idfile {root}/monit.id\nset statefile {root}/monit.state\n{checks}"
        )
        control.chmod(0o600)
        proc = subprocess.Popen(
            [monit, "-I", "-c", str(control)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            return sample_rss(proc.pid, seconds)
        finally:
            proc.terminate()
            proc.wait(20)


def line(
    label: str, figures: tuple[float, float, float], target: float, peer: float | None
) -> None:
    rss, peak, anon = figures
    verdict = "ok" if rss <= target else "OVER TARGET"
    ratio = f"  {rss / peer:4.1f}x Monit" if peer else ""
    print(
        f"{label:34} RSS {rss:6.1f} MB (peak {peak:5.1f}, anonymous {anon:5.1f})"
        f"  target <= {target:g} MB {verdict}{ratio}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["process", "every", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    peer: float | None = None
    if args.scenario in ("process", "both"):
        monit = run_monit(PROCESS_POLICIES, args.seconds)
        if monit is None:
            peer = MONIT_PUBLISHED_MB
            print(f"monit not installed: peer figure {peer} MB (issue 14)")
        else:
            peer = monit[0]
            print(
                f"{'Monit, 50 process checks':34} RSS {monit[0]:6.1f} MB"
                f" (peak {monit[1]:5.1f}, anonymous {monit[2]:5.1f})"
            )
        line(
            f"medic run, {PROCESS_POLICIES} process policies",
            run_agent(process_policies(PROCESS_POLICIES), args.seconds),
            TARGET_PROCESS_MB,
            peer,
        )
    if args.scenario in ("every", "both"):
        policies = every_family_policies()
        line(
            f"medic run, every family ({len(policies)})",
            run_agent(policies, args.seconds),
            TARGET_EVERY_MB,
            None,
        )


if __name__ == "__main__":
    main()
