"""Profile the real agent in-process: N process or file checks, cProfile over a window.

Prints the top functions by own time and by cumulative time (main thread only), and
the agent's CPU over all its threads; ``--no-profile`` measures the CPU alone, and
``--history-per-minute 0`` turns the samples recording off to show what it costs.

    .venv/bin/python bench/profile_agent.py [--checks 50] [--kind process|file] [--seconds 20]
        [--no-profile] [--history-per-minute N]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from medic import logsetup
from medic.audit.history_options import HistoryOptions
from medic.cli.run import agent_with_api
from medic.config import load_config
from peers import Services, medic_config, medic_file_policies, medic_process_policies


async def run(config_path: Path, args: argparse.Namespace) -> float:
    config = load_config(config_path)
    if args.history_per_minute is not None:
        config = replace(config, history=HistoryOptions(per_minute=args.history_per_minute))
    agent = agent_with_api(config)
    await agent.start()
    await asyncio.sleep(5)
    profile = cProfile.Profile()
    cpu0 = time.process_time()
    if args.profile:
        profile.enable()
    await asyncio.sleep(args.seconds)
    profile.disable()
    cpu = (time.process_time() - cpu0) / args.seconds
    await agent.stop()
    if args.profile:
        profile.dump_stats(args.out)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checks", type=int, default=50)
    parser.add_argument("--kind", choices=("process", "file"), default="process")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument(
        "--out", type=Path, default=Path(tempfile.gettempdir()) / "medic-agent.prof"
    )
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--history-per-minute", type=int, default=None)
    args = parser.parse_args()
    logsetup.configure("json", "error")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        services = None
        if args.kind == "process":
            services = Services(root, args.checks)
            services.start_all()
            policies = medic_process_policies(services, "1s")
        else:
            paths = [root / f"file{i}" for i in range(args.checks)]
            for p in paths:
                p.write_text("x")
            policies = medic_file_policies(paths, "1s")
        try:
            cpu = asyncio.run(run(medic_config(root, policies), args))
        finally:
            if services is not None:
                services.stop_all()
    if not args.profile:
        print(f"agent CPU (all threads, not profiled) {cpu * 100:.2f}% of one core")
        return
    print(f"agent CPU (all threads; profiled, so inflated) {cpu * 100:.2f}% of one core")
    stats = pstats.Stats(str(args.out))
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
