"""Start-up: from exec of `medic run` to systemd's READY=1 with the host pack (<= 1 s).

The bench plays systemd: it binds a datagram socket, passes it as ``$NOTIFY_SOCKET``,
starts the real agent (API on, audit on) and times the first ``READY=1`` it receives;
then it stops the agent with SIGTERM and times the exit. Median of ``--runs``.

    .venv/bin/python bench/bench_ready.py [--runs 5] [--pack policies/host]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchkit import free_port

REPO = Path(__file__).resolve().parent.parent
TARGET_READY_S = 1.0


def one_start(pack: Path, root: Path) -> tuple[float, float]:
    """(seconds to READY=1, seconds from SIGTERM to exit) of one agent."""
    config = {
        "state_dir": str(root / "state"),
        "policies": [str(pack)],
        "api": {"listen": f"127.0.0.1:{free_port()}"},
        "log": {"format": "json", "level": "warning"},
    }
    (root / "medic.yaml").write_text(yaml.safe_dump(config))
    address = root / "notify.sock"
    address.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(address))
        sock.settimeout(30)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "medic", "run", "--config", str(root / "medic.yaml")],
            cwd=root,
            env={**os.environ, "NOTIFY_SOCKET": str(address)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            while True:
                try:
                    message = sock.recv(4096).decode()
                except TimeoutError:
                    raise SystemExit(f"no READY=1 within 30 s:\n{_stderr(proc)}") from None
                if "READY=1" in message.splitlines():
                    ready = time.perf_counter() - start
                    break
            proc.send_signal(signal.SIGTERM)
            stop_start = time.perf_counter()
            proc.wait(30)
            stopped = time.perf_counter() - stop_start
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return ready, stopped


def _stderr(proc: subprocess.Popen[bytes]) -> str:
    proc.kill()
    _, err = proc.communicate()
    return err.decode()[-3000:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pack", type=Path, default=REPO / "policies" / "host")
    args = parser.parse_args()
    readies: list[float] = []
    stops: list[float] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="medic-bench-ready-") as tmp:
            ready, stopped = one_start(args.pack.resolve(), Path(tmp))
        readies.append(ready)
        stops.append(stopped)
    ready = statistics.median(readies)
    verdict = "ok" if ready <= TARGET_READY_S else "OVER TARGET"
    print(f"pack {args.pack}, {args.runs} runs")
    print(
        f"  exec -> READY=1   median {ready * 1000:7.1f} ms  (max {max(readies) * 1000:.1f})"
        f"  target <= {TARGET_READY_S * 1000:.0f} ms {verdict}"
    )
    print(f"  SIGTERM -> exit   median {statistics.median(stops) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
