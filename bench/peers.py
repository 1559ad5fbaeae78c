"""Medic and Monit side by side: the same services, the same checks, one daemon at a time.

What bench_vs_monit.py needs: a real service (a sleeper started by a script that writes
its pidfile), a control file for Monit (from Debian, installed by
scripts/provision-monit.sh; nothing is installed at bench time) and a config for Medic
watching the same pidfiles or files, each daemon started as a real process, and the
CPU a process tree used, read from /proc. The bench is the nearest subreaper, so a
killed sleeper whose parent was Monit's start script is reaped at once, as Medic reaps
its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

PR_SET_CHILD_SUBREAPER = 36
START_SCRIPT = """#!/bin/sh
# Start the service: a sleeper, its pid written atomically to the pidfile.
sleep 1000000 </dev/null >/dev/null 2>&1 &
echo $! > "$1.tmp" && mv "$1.tmp" "$1"
"""
TICKS = os.sysconf("SC_CLK_TCK")


def become_subreaper() -> None:
    """Adopt orphans (the sleepers Monit's start script leaves) so they can be reaped."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap() -> None:
    """Reap every exited child without waiting."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def monit_binary() -> str:
    found = shutil.which("monit")
    if found is None:
        sys.exit("monit is not installed: run scripts/provision-monit.sh (make provision)")
    return found


class Services:
    """``count`` sleeper services under ``root``, each with its pidfile."""

    def __init__(self, root: Path, count: int) -> None:
        self.root = root
        self.script = root / "start.sh"
        self.script.write_text(START_SCRIPT)
        self.script.chmod(0o755)
        self.pidfiles = [root / f"svc{i}.pid" for i in range(count)]

    def start_all(self) -> None:
        for pidfile in self.pidfiles:
            self.start(pidfile)

    def start(self, pidfile: Path) -> None:
        subprocess.run(["/bin/sh", str(self.script), str(pidfile)], check=True)

    def argv(self, pidfile: Path) -> list[str]:
        return ["/bin/sh", str(self.script), str(pidfile)]

    def stop_all(self) -> None:
        for pidfile in self.pidfiles:
            pid = read_pid(pidfile)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
        reap()


def read_pid(pidfile: Path) -> int | None:
    try:
        text = pidfile.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:  # noqa: PTH123 - polled often
            data = f.read()
    except OSError:
        return False
    return data[data.rfind(b")") + 2 : data.rfind(b")") + 3] not in (b"Z", b"X")


def monit_config(root: Path, every: int, checks: list[str]) -> Path:
    """A Monit control file running every ``every`` seconds with ``checks``."""
    lines = [
        f"set daemon {every}",
        f"set logfile {root}/monit.log",
        f"set idfile {root}/monit.id",
        f"set statefile {root}/monit.state",
        f"set pidfile {root}/monit.pid",
        *checks,
    ]
    path = root / "monitrc"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def monit_process_checks(services: Services) -> list[str]:
    return [
        f'check process svc{i} with pidfile {p}\n  start program = "/bin/sh {services.script} {p}"'
        for i, p in enumerate(services.pidfiles)
    ]


def monit_file_checks(paths: list[Path]) -> list[str]:
    return [
        f"check file f{i} with path {p}\n  if timestamp > 1 day then alert"
        for i, p in enumerate(paths)
    ]


def medic_config(root: Path, policies: list[dict[str, Any]]) -> Path:
    """A Medic config (API off, breaker out of the way) and its one policy file."""
    (root / "policies").mkdir(exist_ok=True)
    (root / "policies" / "bench.yaml").write_text(
        yaml.safe_dump({"version": 1, "policies": policies}, sort_keys=False)
    )
    path = root / "medic.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "state_dir": str(root / "state"),
                "policies": [str(root / "policies")],
                "watch": False,
                "api": {"enabled": False},
                "log": {"format": "json", "level": "error"},
                "limits": {
                    "max_concurrent_actions": 64,
                    "circuit_breaker": {"max_actions": 100_000, "per": "1m"},
                },
            }
        )
    )
    return path


def medic_process_policies(services: Services, every: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f"svc{i}",
            "probe": {"type": "process", "pidfile": str(p), "every": every},
            "when": "not running",
            "remediate": [{"command": {"argv": services.argv(p), "timeout": "10s"}}],
            "verify": {"after": "1s"},
            "limits": {"max": 1000, "per": "1h", "cooldown": "0s"},
        }
        for i, p in enumerate(services.pidfiles)
    ]


def medic_file_policies(paths: list[Path], every: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f"f{i}",
            "probe": {"type": "file", "path": str(p), "every": every},
            "when": "age > 1d",
            "remediate": [{"command": {"argv": ["true"]}}],
        }
        for i, p in enumerate(paths)
    ]


def start_monit(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [monit_binary(), "-c", str(config), "-I"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_medic(config: Path, root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "medic", "run", "--config", str(config)],
        stdout=(root / "medic.log").open("ab"),
        stderr=subprocess.STDOUT,
        cwd=root,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def cpu_of(pid: int) -> float:
    """CPU seconds of ``pid`` and its reaped children (utime+stime+cutime+cstime)."""
    with open(f"/proc/{pid}/stat", "rb") as f:  # noqa: PTH123 - as the kernel writes it
        data = f.read()
    rest = data[data.rfind(b")") + 2 :].split()
    return sum(int(x) for x in rest[11:15]) / TICKS
