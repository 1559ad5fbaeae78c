"""Validation benchmark: the shipped packs in <= 300 ms, 1,000 policies in <= 500 ms.

    .venv/bin/python bench/bench_validate.py [--policies 1000] [--files 50] [--runs 5]

The policies are the installed probes' and actions' own docstring examples, renamed
and cycled, so the workload covers every registered type with realistic options.
Four figures, median of ``--runs`` each:

(a) ``load_paths`` in this process, first call (validators compiled, cold caches);
(b) ``load_paths`` again (warm: what a reload costs a running agent);
(c) ``medic validate`` end to end in a fresh interpreter (imports included): issue 14's
    target is 500 ms;
(d) ``medic validate policies/`` (the shipped packs) the same way: target 300 ms.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchkit import docstring_policies
from medic.policy import schema as policy_schema
from medic.policy.loader import load_paths

TARGET_S = 1.0
TARGET_CLI_S = 0.5
TARGET_PACKS_S = 0.3
PACKS = Path(__file__).resolve().parent.parent / "policies"


def write_tree(root: Path, policies: int, files: int) -> None:
    """``policies`` renamed copies of the templates, spread evenly over ``files`` files."""
    cycle = itertools.cycle(docstring_policies())
    per_file = policies // files
    for index in range(files):
        batch = []
        for number in range(per_file):
            policy = dict(next(cycle))
            policy["name"] = f"p{index:03d}-{number:03d}-{policy['name']}"
            batch.append(policy)
        text = yaml.safe_dump({"version": 1, "policies": batch}, sort_keys=False)
        (root / f"pack{index // 10}" / f"file{index:03d}.yaml").parent.mkdir(exist_ok=True)
        (root / f"pack{index // 10}" / f"file{index:03d}.yaml").write_text(text)


def clear_caches() -> None:
    for cached in (
        policy_schema.envelope_validator,
        policy_schema.probe_validator,
        policy_schema.action_validator,
    ):
        cached.cache_clear()


def time_load(root: Path, expected: int, *, cold: bool) -> float:
    if cold:
        clear_caches()
    start = time.perf_counter()
    result = load_paths([root])
    elapsed = time.perf_counter() - start
    if result.errors or len(result.policies) != expected:
        raise SystemExit(f"unexpected result: {[str(e) for e in result.errors[:5]]}")
    return elapsed


def time_cli(root: Path) -> float:
    """Wall time of the whole `medic validate ROOT` command, interpreter start included."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "medic", "validate", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"medic validate failed:\n{done.stdout}{done.stderr}")
    return elapsed


def report(label: str, samples: list[float], target: float | None) -> None:
    median = statistics.median(samples)
    verdict = "" if target is None else ("  ok" if median <= target else "  OVER TARGET")
    print(f"{label:44} median {median * 1000:7.1f} ms  (runs: {len(samples)}){verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    expected = args.policies // args.files * args.files
    with tempfile.TemporaryDirectory(prefix="medic-bench-validate-") as tmp:
        root = Path(tmp)
        write_tree(root, args.policies, args.files)
        lines = sum(len(p.read_text().splitlines()) for p in root.rglob("*.yaml"))
        print(f"{expected} policies in {args.files} files ({lines} lines of YAML)")
        cold = [time_load(root, expected, cold=True) for _ in range(args.runs)]
        warm = [time_load(root, expected, cold=False) for _ in range(args.runs)]
        cli = [time_cli(root) for _ in range(args.runs)]
    packs = [time_cli(PACKS) for _ in range(args.runs)]
    report("(a) load_paths, validators compiled cold", cold, TARGET_S)
    report("(b) load_paths, warm (a reload)", warm, TARGET_S)
    report(f"(c) medic validate, {expected} policies", cli, TARGET_CLI_S)
    report("(d) medic validate policies/ (shipped)", packs, TARGET_PACKS_S)


if __name__ == "__main__":
    main()
