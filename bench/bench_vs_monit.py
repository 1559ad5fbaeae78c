"""Medic against Monit (Debian's, 1 s cycle) on the same real services, like for like.

heal: a sleeper service (started by a script that writes its pidfile) is killed; the
time until a new sleeper is running is taken the same way for both daemons: the
bench polls the pidfile every 2 ms (a stat and a small read, no process listing) and
stops the clock when it names a new live, non-zombie process. Monit and Medic run in
alternating blocks (one daemon at a time) within one run; kills are spaced 1.3-1.8 s at
random so they land anywhere in Monit's cycle.

cpu: the same N checks (process checks on N sleepers, or file checks on N files) for
each daemon in turn, at the same interval; CPU of the daemon and its children over
the window, in percent of one core.

    .venv/bin/python bench/bench_vs_monit.py heal [--kills 60] [--blocks 4]
    .venv/bin/python bench/bench_vs_monit.py cpu --checks 50 --every 1 [--kind file]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchkit import p99
from peers import (
    Services,
    alive,
    become_subreaper,
    cpu_of,
    medic_config,
    medic_file_policies,
    medic_process_policies,
    monit_config,
    monit_file_checks,
    monit_process_checks,
    read_pid,
    reap,
    start_medic,
    start_monit,
    stop,
)

POLL = 0.002


def heal_once(services: Services) -> float:
    """Kill the service; seconds until a new one runs (pidfile names a live new pid)."""
    pidfile = services.pidfiles[0]
    old = read_pid(pidfile)
    assert old is not None and alive(old), "the service is not running"
    started = time.monotonic()
    os.kill(old, signal.SIGKILL)
    while True:
        reap()
        pid = read_pid(pidfile)
        if pid is not None and pid != old and alive(pid):
            return time.monotonic() - started
        if time.monotonic() - started > 10:
            raise RuntimeError("the service was not restarted within 10 s")
        time.sleep(POLL)


def heal(args: argparse.Namespace) -> None:
    become_subreaper()
    results: dict[str, list[float]] = {"monit": [], "medic": []}
    per_block = max(1, args.kills // args.blocks)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        services = Services(root, 1)
        daemons: dict[str, Callable[[], subprocess.Popen[bytes]]] = {
            "monit": lambda: start_monit(monit_config(root, 1, monit_process_checks(services))),
            "medic": lambda: start_medic(
                medic_config(root, medic_process_policies(services, "10s")), root
            ),
        }
        for block in range(args.blocks * 2):
            name = ("monit", "medic")[block % 2]
            services.start_all()
            proc = daemons[name]()
            time.sleep(3)  # started and watching
            try:
                for _ in range(per_block):
                    results[name].append(heal_once(services))
                    time.sleep(random.uniform(1.3, 1.8))
            finally:
                stop(proc)
                services.stop_all()
    print(f"process killed -> new process running (n={per_block * args.blocks} each)")
    for name, samples in results.items():
        ms = [s * 1000 for s in samples]
        print(
            f"  {name:5}  p50 {statistics.median(ms):7.1f} ms  p99 {p99(ms):7.1f} ms  "
            f"max {max(ms):7.1f} ms"
        )
    m50, d50 = statistics.median(results["monit"]), statistics.median(results["medic"])
    m99, d99 = p99(results["monit"]), p99(results["medic"])
    print(f"  ratio monit/medic: p50 {m50 / d50:.1f}x, p99 {m99 / d99:.1f}x")


def cpu_window(proc: subprocess.Popen[bytes], warmup: float, seconds: float) -> float:
    time.sleep(warmup)
    if proc.poll() is not None:
        raise RuntimeError("the daemon exited during warm-up")
    before, t0 = cpu_of(proc.pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_of(proc.pid) - before) / (time.monotonic() - t0) * 100.0


def cpu(args: argparse.Namespace) -> None:
    become_subreaper()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        every = f"{args.every}s"
        if args.kind == "process":
            services = Services(root, args.checks)
            services.start_all()
            monit_checks = monit_process_checks(services)
            policies = medic_process_policies(services, every)
        else:
            paths = [root / f"file{i}" for i in range(args.checks)]
            for p in paths:
                p.write_text("x")
            monit_checks = monit_file_checks(paths)
            policies = medic_file_policies(paths, every)
        figures = {}
        try:
            proc = start_monit(monit_config(root, args.every, monit_checks))
            try:
                figures["monit"] = cpu_window(proc, 3, args.seconds)
            finally:
                stop(proc)
            proc = start_medic(medic_config(root, policies), root)
            try:
                figures["medic"] = cpu_window(proc, 8, args.seconds)
            finally:
                stop(proc)
        finally:
            if args.kind == "process":
                services.stop_all()
    print(f"CPU, {args.checks} {args.kind} checks every {args.every}s ({args.seconds:g}s window)")
    for name, value in figures.items():
        print(f"  {name:5}  {value:6.2f} % of a core")
    print(f"  ratio medic/monit: {figures['medic'] / max(figures['monit'], 0.01):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    h = sub.add_parser("heal")
    h.add_argument("--kills", type=int, default=60)
    h.add_argument("--blocks", type=int, default=4)
    c = sub.add_parser("cpu")
    c.add_argument("--checks", type=int, default=50)
    c.add_argument("--every", type=int, default=1)
    c.add_argument("--kind", choices=("process", "file"), default="process")
    c.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    heal(args) if args.mode == "heal" else cpu(args)


if __name__ == "__main__":
    main()
