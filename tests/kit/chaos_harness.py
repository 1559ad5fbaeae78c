"""A real `medic run` process that a test starts, kills with SIGKILL and starts again,
watching a real sleeper process that the test kills and the policy restarts.

The agent tells the test it is ready (and what its status line says) over the
sd_notify protocol: the test binds the datagram socket named in ``NOTIFY_SOCKET``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import yaml

from kit.agent_harness import spawn_agent

SLEEPER_CODE = "import time; time.sleep(3600)"


class Sleeper:
    """The target: ``python -c <sleep> <marker>-sleeper`` processes, in their own session."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.tag = f"{marker}-sleeper"

    def start(self) -> None:
        subprocess.Popen([sys.executable, "-c", SLEEPER_CODE, self.tag], start_new_session=True)

    def restart_argv(self, delay: float) -> list[str]:
        """The policy's `command`: wait ``delay`` (a window for SIGKILL), then start one.
        The tag is built inside the shell so the shell itself never matches the probe."""
        script = f'sleep {delay}; exec setsid -f "$0" -c "{SLEEPER_CODE}" "$1-sleeper"'
        return ["sh", "-c", script, sys.executable, self.marker]

    def pids(self) -> list[int]:
        found = []
        for p in psutil.process_iter(["cmdline", "status"]):
            cmd = p.info["cmdline"] or []
            if self.tag in cmd and p.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(p.pid)
        return found

    def kill(self) -> int:
        """SIGKILL every running sleeper; how many there were."""
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    def kill_everything(self) -> None:
        """At the end: the sleepers and any restart command still on its way."""
        for p in psutil.process_iter(["cmdline"]):
            if any(self.marker in part for part in p.info["cmdline"] or []):
                with contextlib.suppress(psutil.Error):
                    p.kill()


class ChaosAgent:
    """One agent config and state dir; start() may be called again after kill9()."""

    def __init__(self, root: Path, config: dict[str, Any], policies: list[dict[str, Any]]) -> None:
        self.root = root
        (root / "policies").mkdir(parents=True, exist_ok=True)
        (root / "policies" / "chaos.yaml").write_text(
            yaml.safe_dump({"version": 1, "policies": policies}, sort_keys=False)
        )
        self.config = root / "medic.yaml"
        base = {"policies": ["policies"], "watch": False, "log": {"format": "json"}}
        self.config.write_text(yaml.safe_dump({**base, **config}))
        self.db = Path(config["state_dir"]) / "audit.db"
        self.log = root / "agent.log"
        self.socket_path = root / "notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.socket_path))
        self.proc: subprocess.Popen[bytes] | None = None
        self.statuses: list[str] = []

    def start(self) -> None:
        self.drain()  # what a killed agent said before must not pass for this one
        self.proc = spawn_agent(
            self.config, self.root, self.log, NOTIFY_SOCKET=str(self.socket_path)
        )

    def messages(self, timeout: float) -> list[str]:
        """sd_notify messages received within ``timeout`` seconds (at least one waited for)."""
        out: list[str] = []
        self.notify.settimeout(timeout)
        try:
            out.append(self.notify.recv(65536).decode())
            self.notify.settimeout(0)
            while True:
                out.append(self.notify.recv(65536).decode())
        except (TimeoutError, BlockingIOError):
            pass
        for message in out:
            self.statuses += [
                line[7:] for line in message.splitlines() if line.startswith("STATUS=")
            ]
        return out

    def drain(self) -> None:
        self.notify.settimeout(0)
        try:
            while True:
                self.notify.recv(65536)
        except BlockingIOError:
            pass

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("READY=1" in m for m in self.messages(0.2)):
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"agent exited: {self.log.read_text()[-3000:]}")
        raise AssertionError(f"agent not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self.notify.close()

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        conn.row_factory = sqlite3.Row
        try:
            sql, args = "select * from events", ()
            if kind is not None:
                sql, args = sql + " where kind = ?", (kind,)
            rows = [dict(r) for r in conn.execute(sql + " order by id", args)]
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()
        for row in rows:
            row["details"] = json.loads(row["details"]) if row["details"] else {}
        return rows
